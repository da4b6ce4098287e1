/*
 * ctl — creating and attaching the run's control region (ctl.h).
 */
#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ariadne.h"

static uint64_t ctl_align(uint64_t n) { return (n + 63u) & ~(uint64_t)63u; }

static void ctl_layout(ctl_header_t *h)
{
    h->nodes_offset = ctl_align(sizeof *h);
    h->ring_stride = h->ring_count > 0 ? shmring_footprint(h->ring_capacity) : 0;
    h->rings_offset = ctl_align(h->nodes_offset + (uint64_t)h->nodes * sizeof(ctl_node_t));
    h->total_bytes = h->rings_offset + (uint64_t)h->ring_count * h->ring_stride;
}

static int ctl_params_check(const ctl_params_t *p)
{
    if (p->nodes == 0 || p->nodes > CTL_NODES_MAX || p->topo_spec == NULL ||
        strlen(p->topo_spec) >= CTL_TOPO_MAX || p->timeout_ms == 0 || p->ports == 0 ||
        p->ports > TOPO_PORTS_MAX || p->mem_bytes == 0)
        return ARI_EINVAL;
    if (p->ring_count > 0 && (p->ring_capacity < SHMRING_CAPACITY_MIN ||
                              p->ring_capacity > SHMRING_CAPACITY_MAX ||
                              (p->ring_capacity & (p->ring_capacity - 1)) != 0))
        return ARI_EINVAL;
    return p->ring_count <= p->nodes * (uint64_t)TOPO_PORTS_MAX ? ARI_OK : ARI_EINVAL;
}

int ctl_create(const ctl_params_t *params, int *fd_out, ctl_header_t **ctl_out)
{
    int status = ctl_params_check(params);
    if (status != ARI_OK)
        return status;
    ctl_header_t h = {.magic = CTL_MAGIC, .version = CTL_VERSION, .nodes = params->nodes,
                      .ports = params->ports, .ring_count = params->ring_count,
                      .ring_capacity = params->ring_capacity, .mem_bytes = params->mem_bytes,
                      .flags = params->flags, .timeout_ms = params->timeout_ms,
                      .agent_fd = params->agent_fd > 0 ? params->agent_fd : -1};
    strcpy(h.topo_spec, params->topo_spec);
    ctl_layout(&h);
    int fd = memfd_create("ariadne-ctl", 0);
    if (fd < 0)
        return errno == ENOMEM || errno == EMFILE || errno == ENFILE ? ARI_ENOMEM : ARI_EIO;
    void *base = MAP_FAILED;
    if (ftruncate(fd, (off_t)h.total_bytes) == 0)
        base = mmap(NULL, h.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        close(fd);
        return ARI_ENOMEM;
    }
    ctl_header_t *ctl = base;
    memcpy(ctl, &h, sizeof h);
    for (uint32_t n = 0; n < h.nodes; n++)
        bell_init(&ctl_node(ctl, n)->bell);
    for (uint32_t r = 0; r < h.ring_count; r++) {
        status = shmring_init(ctl_ring(ctl, r), h.ring_capacity);
        assert(status == ARI_OK); /* the capacity was checked */
    }
    *fd_out = fd;
    *ctl_out = ctl;
    return ARI_OK;
}

int ctl_attach(int fd, ctl_header_t **ctl_out)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(ctl_header_t))
        return ARI_EINVAL;
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return ARI_EINVAL;
    ctl_header_t *ctl = base;
    ctl_header_t expect = *ctl;
    int status = ARI_OK;
    if (expect.magic != CTL_MAGIC || expect.version != CTL_VERSION || expect.timeout_ms == 0 ||
        expect.mem_bytes == 0 ||
        expect.nodes == 0 || expect.nodes > CTL_NODES_MAX ||
        memchr(expect.topo_spec, 0, sizeof expect.topo_spec) == NULL)
        status = ARI_EINVAL;
    if (status == ARI_OK) {
        uint64_t total = expect.total_bytes;
        ctl_layout(&expect);
        /* ring_stride too: ctl_ring() trusts it, and a wrong one points
         * outside the mapping even when the total size agrees. */
        if (expect.total_bytes != total || total != (uint64_t)st.st_size ||
            expect.nodes_offset != ctl->nodes_offset || expect.rings_offset != ctl->rings_offset ||
            expect.ring_stride != ctl->ring_stride)
            status = ARI_EINVAL;
    }
    /* The checked copy's count and capacity, not the live header's. */
    for (uint32_t r = 0; status == ARI_OK && r < expect.ring_count; r++)
        status = shmring_check(ctl_ring(ctl, r), expect.ring_capacity) == ARI_OK ? ARI_OK
                                                                                   : ARI_EINVAL;
    if (status != ARI_OK) {
        munmap(base, (size_t)st.st_size);
        return status;
    }
    *ctl_out = ctl;
    return ARI_OK;
}

void ctl_detach(ctl_header_t *ctl)
{
    if (ctl != NULL)
        munmap(ctl, ctl->total_bytes);
}

void ctl_agent_wake(ctl_header_t *ctl)
{
    if (ctl->agent_fd < 0 ||
        atomic_fetch_add_explicit(&ctl->agent_polling, 0, memory_order_seq_cst) != 0)
        return;
    /* EAGAIN means the counter is full: the agent has a wake-up pending. */
    if (eventfd_write(ctl->agent_fd, 1) != 0)
        return;
}
