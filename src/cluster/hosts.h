/*
 * hosts — the hosts file of `ariadne run --hosts FILE` (docs/CLUSTER.md):
 * which machines a run spreads over, where each one is reached, how many
 * nodes it takes, and the command template that starts a process there.
 *
 *   # comment
 *   default launch = ssh -o BatchMode=yes {addr} {cmdline}
 *   default port = 17470
 *   NAME  ADDRESS[:PORT]  SLOTS  [launch = TEMPLATE]
 *
 * Also: expanding a template for one command (with shell quoting), placing
 * node ids on hosts by their slots.
 */
#ifndef ARIADNE_CLUSTER_HOSTS_H
#define ARIADNE_CLUSTER_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/addr.h"

#define CLUSTER_HOSTS_MAX 4096u           /* host lines in one file */
#define CLUSTER_SLOTS_MAX 4096u           /* node slots of one host */
#define CLUSTER_NODES_MAX 4096u           /* node slots of all hosts together */
#define CLUSTER_LINE_MAX 1024u            /* bytes of one line, without its newline */
#define CLUSTER_NAME_MAX 63u              /* bytes of a host name */
#define CLUSTER_HOSTS_FILE_MAX (1u << 20) /* bytes of a whole hosts file */
#define CLUSTER_HOSTS_ERROR_MAX 512u      /* an error buffer that holds every message */
#define CLUSTER_PORT_DEFAULT 17470u       /* first node's port when a host names none */
#define CLUSTER_LAUNCH_DEFAULT "ssh -o BatchMode=yes {addr} {cmdline}"

_Static_assert(CLUSTER_SLOTS_MAX <= CLUSTER_NODES_MAX, "one host's slots fit the whole run");
_Static_assert(CLUSTER_NODES_MAX <= 65535u, "a port per node slot");

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];
    cluster_endpoint_t endpoint; /* the address, and the first slot's port: slot k
                                  * listens on endpoint.port + k */
    cluster_addr_kind_t addr_kind;
    uint32_t slots;
    uint32_t line; /* where the host was defined */
    char *launch;  /* its own template; NULL: the file's default */
} cluster_host_t;

typedef struct {
    cluster_host_t *hosts; /* in file order */
    uint32_t count;
    uint32_t slots_total;
    char *launch_default; /* 'default launch', or CLUSTER_LAUNCH_DEFAULT */
} cluster_hosts_t;

/* Parses a hosts file's text (`length` bytes, NUL bytes refused). Every
 * error is one line naming the file and line, e.g.
 * "hosts.txt:3: slots must be a number from 1 to 4096, not 'x'", and
 * returns ARI_EINVAL (ARI_ENOMEM when out of memory). On success *out
 * holds the hosts; free it with cluster_hosts_free. */
int cluster_hosts_parse(const char *text, size_t length, const char *file_name,
                        cluster_hosts_t *out, char *error, size_t error_size);

/* Reads and parses the file at `path` (at most CLUSTER_HOSTS_FILE_MAX
 * bytes): ARI_EIO when it cannot be read, else as cluster_hosts_parse. */
int cluster_hosts_load(const char *path, cluster_hosts_t *out, char *error, size_t error_size);

void cluster_hosts_free(cluster_hosts_t *hosts);

/* The template that starts a process on host `index`. */
const char *cluster_hosts_launch(const cluster_hosts_t *hosts, uint32_t index);

/* Expands host `index`'s template for the command argv[0..] (NULL-ended,
 * at least one word) into a command line for /bin/sh -c: {host} the name,
 * {addr} the address, {port} the first slot's port, {cmd} the command's
 * words each quoted for that shell, {cmdline} those quoted words quoted
 * once more as one word (for ssh, which hands a string to a remote shell),
 * '{{' a '{'. Returns 0, ARI_EINVAL (no command) or ARI_ENOMEM (the result
 * needs more than out_size bytes), with a message in `error`. */
int cluster_hosts_expand(const cluster_hosts_t *hosts, uint32_t index, char *const argv[],
                         char *out, size_t out_size, char *error, size_t error_size);

/* Where a node runs: its host (index in file order), its slot there, and
 * the port it listens on (the host's port + slot). */
typedef struct {
    uint32_t host;
    uint32_t slot;
    uint16_t port;
} cluster_place_t;

/* Places nodes 0..nodes-1: node i goes to the first host, in file order,
 * with a free slot. places_out has `nodes` entries. ARI_EINVAL when nodes
 * is 0 or more than the slots of all hosts, with a message. */
int cluster_hosts_place(const cluster_hosts_t *hosts, const char *file_name, uint32_t nodes,
                        cluster_place_t *places_out, char *error, size_t error_size);

#endif /* ARIADNE_CLUSTER_HOSTS_H */
