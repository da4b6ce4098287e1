/*
 * libFuzzer target for the hosts file and the rank variables: any bytes
 * either parse into hosts that keep every rule of the format (names unique,
 * slots and ports in range, templates that expand, nodes that place) or
 * fail with ARI_EINVAL and a message naming the file. The same bytes, cut
 * at newlines, are an environment for the rank reader.
 */
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"
#include "cluster/hosts.h"
#include "cluster/rank.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_hosts(const cluster_hosts_t *hosts)
{
    static cluster_place_t places[CLUSTER_NODES_MAX];
    uint32_t slots = 0;
    if (hosts->count == 0 || hosts->count > CLUSTER_HOSTS_MAX ||
        hosts->slots_total > CLUSTER_NODES_MAX)
        abort();
    for (uint32_t i = 0; i < hosts->count; i++) {
        const cluster_host_t *host = &hosts->hosts[i];
        if (host->name[0] == '\0' || host->slots == 0 || host->slots > CLUSTER_SLOTS_MAX ||
            host->endpoint.port == 0 || (uint32_t)host->endpoint.port + host->slots - 1 > 65535 ||
            cluster_addr_kind(host->endpoint.addr, strlen(host->endpoint.addr)) != host->addr_kind)
            abort();
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(hosts->hosts[j].name, host->name) == 0)
                abort();
        }
        slots += host->slots;
        char *argv[] = {"prog", "a b", "it's", NULL}, line[8192], error[CLUSTER_HOSTS_ERROR_MAX];
        if (cluster_hosts_expand(hosts, i, argv, line, sizeof line, error, sizeof error) != ARI_OK)
            abort();
    }
    char error[CLUSTER_HOSTS_ERROR_MAX];
    if (slots != hosts->slots_total ||
        cluster_hosts_place(hosts, "fuzz", slots, places, error, sizeof error) != ARI_OK ||
        places[slots - 1].host != hosts->count - 1)
        abort();
}

/* The bytes as up to 8 "NAME=VALUE" lines. */
static void fuzz_rank(const uint8_t *data, size_t size)
{
    char copy[512], *env[9];
    size_t length = size < sizeof copy - 1 ? size : sizeof copy - 1, count = 0;
    memcpy(copy, data, length);
    copy[length] = '\0';
    for (char *line = copy; line != NULL && count < 8; count++) {
        env[count] = line;
        line = strchr(line, '\n');
        if (line != NULL)
            *line++ = '\0';
    }
    env[count] = NULL;
    cluster_rank_t rank;
    char error[256] = "";
    int status = cluster_rank_from_env(env, &rank, error, sizeof error);
    if (status == ARI_OK && (rank.rank >= rank.size || rank.size > CLUSTER_NODES_MAX))
        abort();
    if (status != ARI_OK && (error[0] == '\0' || (status != ARI_EINVAL && status != ARI_ENOTSUP)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX] = "";
    int status = cluster_hosts_parse((const char *)data, size, "fuzz", &hosts, error, sizeof error);
    if (status == ARI_OK) {
        fuzz_check_hosts(&hosts);
        cluster_hosts_free(&hosts);
    } else if ((status != ARI_EINVAL && status != ARI_ENOMEM) || strncmp(error, "fuzz:", 5) != 0) {
        abort();
    }
    fuzz_rank(data, size);
    return 0;
}
