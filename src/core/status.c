/*
 * status — names for the ARI_E* codes of include/ariadne.h.
 */
#include "ariadne.h"

#include <stddef.h>

typedef struct {
    int status;
    const char *text;
} status_name_t;

static const status_name_t status_names[] = {
    {ARI_OK, "success"},
    {ARI_EINVAL, "invalid argument"},
    {ARI_ENOMEM, "out of memory or capacity"},
    {ARI_EBUSY, "resource busy (a bounded table or queue is full)"},
    {ARI_ETIMEDOUT, "timed out"},
    {ARI_EIO, "input/output error"},
    {ARI_ENOTSUP, "not supported"},
    {ARI_ERANGE, "value out of range"},
    {ARI_ENOENT, "no such global page"},
    {ARI_ELOOP, "request path exceeded its hop bound"},
    {ARI_EPEER, "a node this call needed has died"},
    {ARI_EFAULT, "address is not in allocated global memory"},
    {ARI_EINIT, "Ariadne is not initialised (call ari_init first)"},
    {ARI_EMAPS, "the kernel's limit on mapped regions was reached (vm.max_map_count)"},
    {ARI_EPERM, "this node may not do that"},
    {ARI_ELINK, "a link carried malformed data"},
    {ARI_EGVA_PREFIX, "global address must start with \"gva:\""},
    {ARI_EGVA_DIGIT, "global address has a character that is not a hex digit"},
    {ARI_EGVA_LENGTH, "global address half must have 1 to 16 hex digits"},
    {ARI_EGVA_SEPARATOR, "global address needs ':' between its two halves"},
    {ARI_EGVA_TRAILING, "global address has characters after its low half"},
    {ARI_EMSG_SHORT, "message truncated"},
    {ARI_EMSG_VERSION, "message has an unknown wire-format version"},
    {ARI_EMSG_TYPE, "message has an unknown type"},
    {ARI_EMSG_LENGTH, "message length field disagrees with its size"},
    {ARI_EMSG_FIELD, "message field holds a forbidden value"},
    {ARI_EMSG_HOPS, "message hop list exceeds the bound"},
    {ARI_EMSG_TRAILING, "message has bytes after its last field"},
    {ARI_EMSG_SPACE, "buffer too small for the encoded message"},
    {ARI_ETOPO_SPEC, "malformed topology spec"},
    {ARI_ETOPO_DEGREE, "impossible degree for this topology"},
    {ARI_ETOPO_SIZE, "node count out of range for this topology"},
    {ARI_ETOPO_FILE, "malformed topology edge-list file"},
    {ARI_ETOPO_DISCONNECTED, "topology graph is not connected"},
};

const char *ari_strerror(int status)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++) {
        if (status_names[i].status == status)
            return status_names[i].text;
    }
    return "unknown status";
}
