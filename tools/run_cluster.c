/*
 * run_cluster — `ariadne run` across hosts: the launcher and an agent's
 * setup (run_cluster.h).
 */
#include "run_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "cluster/addr.h"
#include "cluster/join.h"
#include "cluster/net.h"
#include "cluster/rank.h"
#include "dpu/files.h"

#define RUN_CLUSTER_ERROR_MAX 1024u
#define RUN_CLUSTER_CMDLINE_MAX (64u * 1024u)
#define RUN_CLUSTER_ARGS_MAX 64u
#define RUN_LOOKUP_MS 5000 /* the longest the first host's name may take to resolve */

extern char **environ;

bool run_cluster_is_launcher(const run_cluster_options_t *o)
{
    return o->hosts_file != NULL && o->agent == RUN_AGENT_NONE;
}

bool run_cluster_is_agent(const run_cluster_options_t *o)
{
    if (o->agent != RUN_AGENT_NONE)
        return true;
    cluster_rank_t rank;
    char error[256];
    return o->hosts_file == NULL && o->key_file != NULL &&
           cluster_rank_from_env(environ, &rank, error, sizeof error) != ARI_ENOTSUP;
}

/* "ADDR[:PORT]" (IPv6 in brackets when a port follows). */
static int run_cluster_endpoint(const char *text, cluster_endpoint_t *out, char *error,
                                size_t error_size)
{
    cluster_addr_kind_t kind;
    char why[256];
    if (cluster_addr_parse(text, strlen(text), 0, out, &kind, why, sizeof why) != ARI_OK) {
        snprintf(error, error_size, "--coordinator %s: %s", text, why);
        return ARI_EINVAL;
    }
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * The plan: which nodes run on which host
 * ------------------------------------------------------------------------ */

static void run_agent_free(run_agent_t *a)
{
    if (a->bridge != NULL)
        bridge_close(a->bridge);
    a->bridge = NULL;
    if (a->topo != NULL)
        topo_free(a->topo);
    a->topo = NULL;
    for (uint32_t i = 0; a->names != NULL && i < a->agents; i++)
        free(a->names[i]);
    free(a->names);
    free(a->host_of);
    free(a->endpoints);
    free(a->file_index);
    a->names = NULL;
    a->host_of = NULL;
    a->endpoints = NULL;
    a->file_index = NULL;
    if (a->hosts_loaded)
        cluster_hosts_free(&a->hosts);
    a->hosts_loaded = false;
    if (a->table.entries != NULL)
        cluster_table_free(&a->table);
    cluster_key_wipe(&a->key);
}

static int run_agent_alloc(run_agent_t *a, uint32_t nodes, uint32_t agents)
{
    a->agents = agents;
    a->host_of = calloc(nodes, sizeof *a->host_of);
    a->names = calloc(agents, sizeof *a->names);
    a->endpoints = calloc(agents, sizeof *a->endpoints);
    a->file_index = calloc(agents, sizeof *a->file_index);
    return a->host_of == NULL || a->names == NULL || a->endpoints == NULL ||
                   a->file_index == NULL ? ARI_ENOMEM : ARI_OK;
}

/* From the hosts file: node i on the first host with a free slot; hosts
 * with no node run no agent. */
static int run_plan_hosts(run_agent_t *a, const char *file, uint32_t nodes, char *error,
                          size_t error_size)
{
    int status = cluster_hosts_load(file, &a->hosts, error, error_size);
    if (status != ARI_OK)
        return status;
    a->hosts_loaded = true;
    cluster_place_t *places = calloc(nodes, sizeof *places);
    if (places == NULL)
        return ARI_ENOMEM;
    status = cluster_hosts_place(&a->hosts, file, nodes, places, error, error_size);
    uint32_t agents = status == ARI_OK ? places[nodes - 1].host + 1 : 0;
    if (status == ARI_OK)
        status = run_agent_alloc(a, nodes, agents);
    for (uint32_t n = 0; status == ARI_OK && n < nodes; n++) {
        uint32_t h = places[n].host; /* file order: agent h is host h */
        a->host_of[n] = h;
        if (a->names[h] == NULL) {
            a->names[h] = strdup(a->hosts.hosts[h].name);
            a->endpoints[h] = a->hosts.hosts[h].endpoint;
            a->file_index[h] = h;
            if (a->names[h] == NULL)
                status = ARI_ENOMEM;
        }
    }
    for (uint32_t h = 0; status == ARI_OK && h < agents; h++) {
        if (a->names[h] == NULL) {
            snprintf(error, error_size, "%s: nodes are placed in file order", file);
            status = ARI_EINVAL; /* NEVER: placement fills hosts in order */
        }
    }
    free(places);
    return status;
}

/* Under srun or mpirun: one node per process, node id = rank. */
static int run_plan_ranks(run_agent_t *a, uint32_t *nodes, char *error, size_t error_size)
{
    cluster_rank_t rank;
    int status = cluster_rank_from_env(environ, &rank, error, error_size);
    if (status != ARI_OK)
        return status;
    if (*nodes != 0 && *nodes != rank.size) {
        snprintf(error, error_size, "-n %u, but the launcher started %u processes (%s)",
                 *nodes, rank.size, rank.source);
        return ARI_EINVAL;
    }
    *nodes = rank.size;
    if ((status = run_agent_alloc(a, rank.size, rank.size)) != ARI_OK)
        return status;
    for (uint32_t i = 0; i < rank.size; i++) {
        a->host_of[i] = i;
        char name[32];
        snprintf(name, sizeof name, "rank%u", i);
        if ((a->names[i] = strdup(name)) == NULL)
            return ARI_ENOMEM;
    }
    a->self = rank.rank;
    return ARI_OK;
}

static void run_plan_local(run_agent_t *a, uint32_t nodes)
{
    a->first = UINT32_MAX;
    a->count = 0;
    for (uint32_t n = 0; n < nodes; n++) {
        if (a->host_of[n] == a->self) {
            a->first = a->first == UINT32_MAX ? n : a->first;
            a->count++;
        }
    }
}

/* ------------------------------------------------------------------------
 * The launcher
 * ------------------------------------------------------------------------ */

static volatile sig_atomic_t run_cluster_stop;

static void run_cluster_on_signal(int signo)
{
    run_cluster_stop = signo;
}

/* Where the agents reach us: --coordinator, else the address this host
 * would use toward the first host. */
static int run_cluster_coordinator_addr(const run_cluster_options_t *o, const run_agent_t *a,
                                        cluster_endpoint_t *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    if (o->coordinator != NULL)
        return run_cluster_endpoint(o->coordinator, out, error, error_size);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", a->endpoints[0].port);
    int fd = -1;
    if (cluster_net_lookup(a->endpoints[0].addr, port, &hints,
                           cluster_net_now_ms() + RUN_LOOKUP_MS, &res) == 0 &&
        (fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0 &&
        connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        struct sockaddr_storage self;
        socklen_t length = sizeof self;
        if (getsockname(fd, (struct sockaddr *)&self, &length) == 0) {
            void *addr = self.ss_family == AF_INET6
                             ? (void *)&((struct sockaddr_in6 *)&self)->sin6_addr
                             : (void *)&((struct sockaddr_in *)&self)->sin_addr;
            inet_ntop(self.ss_family, addr, out->addr, sizeof out->addr);
        }
    }
    if (fd >= 0)
        close(fd);
    if (res != NULL)
        freeaddrinfo(res);
    if (out->addr[0] == 0) {
        snprintf(error, error_size, "cannot tell which address of this host the agents can "
                 "reach (no route to %s); give one with --coordinator ADDR[:PORT]",
                 a->endpoints[0].addr);
        return ARI_EINVAL;
    }
    return ARI_OK;
}

/* The agent's command: ariadne run --agent I ... PROGRAM ARGS. */
static char **run_cluster_agent_argv(const run_cluster_options_t *o, uint32_t agent,
                                     const char *coordinator, uint32_t nodes, const char *spec,
                                     char *const *passthrough, char *const *program,
                                     char *storage, size_t storage_size)
{
    size_t words = 0;
    while (passthrough[words] != NULL)
        words++;
    for (size_t i = 0; program[i] != NULL; i++)
        words++;
    char **argv = calloc(words + 24, sizeof *argv);
    if (argv == NULL)
        return NULL;
    size_t n = 0, used = 0;
#define RUN_ARG(text)                                                                  \
    do {                                                                               \
        int w = snprintf(storage + used, storage_size - used, "%s", (text));           \
        argv[n++] = storage + used;                                                    \
        used += (size_t)w + 1;                                                         \
    } while (0)
    char exe[PATH_MAX] = "ariadne", key[PATH_MAX], hosts[PATH_MAX], number[32];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[length > 0 ? (size_t)length : strlen("ariadne")] = 0;
    if (realpath(o->key_file, key) == NULL || realpath(o->hosts_file, hosts) == NULL) {
        free(argv);
        return NULL;
    }
    RUN_ARG(exe);
    RUN_ARG("run");
    RUN_ARG("--agent");
    snprintf(number, sizeof number, "%u", agent);
    RUN_ARG(number);
    RUN_ARG("--hosts");
    RUN_ARG(hosts);
    RUN_ARG("--key");
    RUN_ARG(key);
    RUN_ARG("--coordinator");
    RUN_ARG(coordinator);
    RUN_ARG("-n");
    snprintf(number, sizeof number, "%u", nodes);
    RUN_ARG(number);
    RUN_ARG("--topo");
    RUN_ARG(spec);
    RUN_ARG("--transport");
    RUN_ARG(link_kind_name(o->transport));
    RUN_ARG("--heartbeat");
    snprintf(number, sizeof number, "%u", o->heartbeat_ms);
    RUN_ARG(number);
    if (o->seal)
        RUN_ARG("--seal");
    for (size_t i = 0; passthrough[i] != NULL; i++)
        argv[n++] = passthrough[i];
    argv[n++] = "--";
    for (size_t i = 0; program[i] != NULL; i++)
        argv[n++] = program[i];
#undef RUN_ARG
    return argv;
}

static pid_t run_cluster_spawn(const char *cmdline)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmdline, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid);
    return pid;
}

typedef struct {
    pid_t *pids;
    int *codes;
    uint32_t agents, running;
} run_cluster_children_t;

static int run_cluster_code(int wait_status)
{
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

/* Reaps what exited; returns the agent that exited, or -1. */
static int run_cluster_reap(run_cluster_children_t *c, bool block)
{
    int wait_status;
    pid_t pid = waitpid(-1, &wait_status, block ? 0 : WNOHANG);
    if (pid <= 0)
        return -1;
    for (uint32_t i = 0; i < c->agents; i++) {
        if (c->pids[i] == pid) {
            c->pids[i] = 0;
            c->codes[i] = run_cluster_code(wait_status);
            c->running--;
            return (int)i;
        }
    }
    return -1;
}

static void run_cluster_kill(run_cluster_children_t *c, int signo)
{
    for (uint32_t i = 0; i < c->agents; i++) {
        if (c->pids[i] > 0)
            kill(-c->pids[i], signo);
    }
}

/* Coordinates the join while watching the agents: one that exits before
 * it joined fails the run at once. */
static int run_cluster_join(cluster_coordinator_t *coordinator, run_cluster_children_t *c,
                            const run_agent_t *a, uint32_t timeout_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (cluster_coordinator_joined(coordinator) < a->agents) {
        if (run_cluster_stop != 0)
            return 130;
        int agent = run_cluster_reap(c, false);
        if (agent >= 0) {
            fprintf(stderr, "ariadne run: the agent of host %s exited (status %d) before the "
                            "run started (see its messages above)\n", a->names[agent],
                    c->codes[agent]);
            return 1;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
            timeout_ms) {
            fprintf(stderr, "ariadne run: only %u of %u hosts joined within %u ms\n",
                    cluster_coordinator_joined(coordinator), a->agents, timeout_ms);
            return 1;
        }
        cluster_coordinator_step(coordinator, 50);
    }
    char error[RUN_CLUSTER_ERROR_MAX];
    if (cluster_coordinator_run(coordinator, (int)timeout_ms, error, sizeof error) != ARI_OK) {
        fprintf(stderr, "ariadne run: %s\n", error);
        return 1;
    }
    return 0;
}

static int run_cluster_start_agents(const run_cluster_options_t *o, const run_agent_t *a,
                                    run_cluster_children_t *c, const char *coordinator,
                                    uint32_t nodes, const char *spec, char *const *passthrough,
                                    char *const *program)
{
    char *storage = malloc(4 * PATH_MAX + 1024), *cmdline = malloc(RUN_CLUSTER_CMDLINE_MAX);
    char error[RUN_CLUSTER_ERROR_MAX];
    int result = 0;
    for (uint32_t i = 0; result == 0 && i < a->agents; i++) {
        char **argv = storage == NULL || cmdline == NULL
                          ? NULL
                          : run_cluster_agent_argv(o, i, coordinator, nodes, spec, passthrough,
                                                   program, storage, 4 * PATH_MAX + 1024);
        if (argv == NULL) {
            fprintf(stderr, "ariadne run: cannot build the agents' command (out of memory, or "
                            "%s / %s not found)\n", o->key_file, o->hosts_file);
            result = 1;
            break;
        }
        if (cluster_hosts_expand(&a->hosts, a->file_index[i], argv, cmdline,
                                 RUN_CLUSTER_CMDLINE_MAX, error, sizeof error) != ARI_OK) {
            fprintf(stderr, "ariadne run: host %s: %s\n", a->names[i], error);
            result = 2;
        } else if ((c->pids[i] = run_cluster_spawn(cmdline)) < 0) {
            fprintf(stderr, "ariadne run: cannot start host %s's agent: %s\n", a->names[i],
                    strerror(errno));
            c->pids[i] = 0;
            result = 1;
        } else {
            c->running++;
        }
        free(argv);
    }
    free(storage);
    free(cmdline);
    return result;
}

int run_cluster_launch(const run_cluster_options_t *o, uint32_t nodes, const char *spec,
                       char *const *passthrough, char *const *program)
{
    run_agent_t a;
    memset(&a, 0, sizeof a);
    char error[RUN_CLUSTER_ERROR_MAX];
    cluster_endpoint_t at;
    cluster_coordinator_t *coordinator = NULL;
    int result = 2;
    if (o->key_file == NULL) {
        fprintf(stderr, "ariadne run: --hosts needs --key FILE (the cluster key; make one "
                        "with 'ariadne keygen FILE')\n");
        return 2;
    }
    if (run_plan_hosts(&a, o->hosts_file, nodes, error, sizeof error) != ARI_OK ||
        cluster_key_load(o->key_file, &a.key, error, sizeof error) != ARI_OK ||
        run_cluster_coordinator_addr(o, &a, &at, error, sizeof error) != ARI_OK) {
        fprintf(stderr, "ariadne run: %s\n", error);
        run_agent_free(&a);
        return 2;
    }
    cluster_coordinator_config_t config = {.key = &a.key, .nodes = a.agents};
    if (cluster_coordinator_open(&config, at.addr, at.port, &coordinator, error,
                                 sizeof error) != ARI_OK) {
        fprintf(stderr, "ariadne run: %s\n", error);
        run_agent_free(&a);
        return 1;
    }
    char where[CLUSTER_ADDR_MAX + 16];
    bool v6 = strchr(at.addr, ':') != NULL;
    snprintf(where, sizeof where, v6 ? "[%s]:%u" : "%s:%u", at.addr,
             cluster_coordinator_port(coordinator));
    run_cluster_children_t c = {calloc(a.agents, sizeof(pid_t)), calloc(a.agents, sizeof(int)),
                                a.agents, 0};
    struct sigaction act = {.sa_handler = run_cluster_on_signal}, old_int, old_term;
    sigaction(SIGINT, &act, &old_int);
    sigaction(SIGTERM, &act, &old_term);
    fflush(NULL);
    if (c.pids != NULL && c.codes != NULL)
        result = run_cluster_start_agents(o, &a, &c, where, nodes, spec, passthrough, program);
    if (result == 0)
        result = run_cluster_join(coordinator, &c, &a, CLUSTER_JOIN_MS_DEFAULT);
    cluster_coordinator_close(coordinator);
    if (result != 0)
        run_cluster_kill(&c, SIGTERM);
    bool forwarded = false;
    while (c.running > 0) {
        if (run_cluster_stop != 0 && !forwarded) {
            run_cluster_kill(&c, SIGTERM);
            forwarded = true;
        }
        run_cluster_reap(&c, true);
    }
    for (uint32_t i = 0; result == 0 && i < a.agents; i++) {
        if (c.codes[i] > result)
            result = c.codes[i];
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(c.pids);
    free(c.codes);
    run_agent_free(&a);
    return result;
}

/* ------------------------------------------------------------------------
 * An agent
 * ------------------------------------------------------------------------ */

/* Rank 0 under srun/mpirun coordinates the join itself. */
static int run_agent_coordinate(run_agent_t *a, const cluster_endpoint_t *at,
                                const cluster_endpoint_t *self, char *error, size_t error_size)
{
    cluster_coordinator_config_t config = {.key = &a->key, .nodes = a->agents};
    cluster_coordinator_t *coordinator;
    int status = cluster_coordinator_open(&config, at->addr, at->port, &coordinator, error,
                                          error_size);
    if (status != ARI_OK)
        return status;
    status = cluster_coordinator_add(coordinator, 0, self, error, error_size);
    if (status == ARI_OK)
        status = cluster_coordinator_run(coordinator, CLUSTER_JOIN_MS_DEFAULT, error, error_size);
    if (status == ARI_OK)
        status = cluster_table_init(&a->table, a->agents);
    if (status == ARI_OK) {
        const cluster_table_t *t = cluster_coordinator_table(coordinator);
        memcpy(a->table.entries, t->entries, a->agents * sizeof *t->entries);
    }
    cluster_coordinator_close(coordinator);
    return status;
}

static int run_agent_join(run_agent_t *a, const run_cluster_options_t *o, char *error,
                          size_t error_size)
{
    cluster_endpoint_t at, self;
    int status = o->coordinator != NULL
                     ? run_cluster_endpoint(o->coordinator, &at, error, error_size)
                     : ARI_EINVAL;
    if (o->coordinator == NULL)
        snprintf(error, error_size, "an agent needs --coordinator ADDR:PORT (where the run's "
                                    "join is coordinated)");
    if (status != ARI_OK)
        return status;
    if (at.port == 0) {
        snprintf(error, error_size, "--coordinator %s: needs a port", o->coordinator);
        return ARI_EINVAL;
    }
    memset(&self, 0, sizeof self);
    self.port = bridge_port(a->bridge);
    if (a->hosts_loaded)
        memcpy(self.addr, a->endpoints[a->self].addr, sizeof self.addr);
    if (!a->hosts_loaded && a->self == 0) {
        memcpy(self.addr, at.addr, sizeof self.addr);
        return run_agent_coordinate(a, &at, &self, error, error_size);
    }
    cluster_join_config_t config = {.key = &a->key, .coordinator_addr = at.addr,
                                    .coordinator_port = at.port, .node_id = a->self,
                                    .self = self};
    cluster_session_t session;
    status = cluster_node_join(&config, &a->table, &session, error, error_size);
    cluster_session_wipe(&session);
    return status;
}

int run_agent_setup(run_agent_t *a, const run_cluster_options_t *o, uint32_t *nodes,
                    const char *spec)
{
    char error[RUN_CLUSTER_ERROR_MAX];
    memset(a, 0, sizeof *a);
    int status = o->key_file == NULL ? ARI_EINVAL : ARI_OK;
    if (status != ARI_OK)
        snprintf(error, sizeof error, "an agent needs --key FILE");
    if (status == ARI_OK)
        status = cluster_key_load(o->key_file, &a->key, error, sizeof error);
    if (status == ARI_OK && o->hosts_file != NULL) {
        status = run_plan_hosts(a, o->hosts_file, *nodes, error, sizeof error);
        a->self = (uint32_t)o->agent;
        if (status == ARI_OK && a->self >= a->agents) {
            snprintf(error, sizeof error, "--agent %d: the run has %u hosts", o->agent,
                     a->agents);
            status = ARI_EINVAL;
        }
    } else if (status == ARI_OK) {
        status = run_plan_ranks(a, nodes, error, sizeof error);
    }
    if (status == ARI_OK) {
        run_plan_local(a, *nodes);
        status = topo_build(spec, dpu_file_read, NULL, &a->topo, error, sizeof error);
    }
    if (status == ARI_OK && a->topo->nodes != *nodes) {
        snprintf(error, sizeof error, "topology %s has %u nodes, the run %u", spec,
                 a->topo->nodes, *nodes);
        status = ARI_EINVAL;
    }
    /* UCX's listener must rebind its port while a run before left it in
     * TIME_WAIT (it does not set SO_REUSEADDR unless told). */
    setenv("UCX_TCP_CM_REUSEADDR", "y", 0);
    /* A link that is down makes UCX print an error at every try to reach
     * it again; the bridge says once that the link is down and when it is
     * back. UCX_LOG_LEVEL set by the user wins. */
    setenv("UCX_LOG_LEVEL", "fatal", 0);
    if (status == ARI_OK) {
        bridge_config_t config = {
            .hosts = a->agents, .self = a->self, .host_of = a->host_of,
            .names = (const char *const *)a->names, .key = &a->key, .transport = o->transport,
            .heartbeat_ms = o->heartbeat_ms, .seal = o->seal, .listen_addr = NULL,
            .listen_port = a->hosts_loaded ? a->endpoints[a->self].port : 0};
        status = bridge_open(&config, a->topo, &a->bridge, error, sizeof error);
    }
    if (status == ARI_OK)
        status = run_agent_join(a, o, error, sizeof error);
    if (status == ARI_OK)
        return 0;
    fprintf(stderr, "ariadne run: host %s: %s\n",
            a->names != NULL && a->self < a->agents && a->names[a->self] != NULL
                ? a->names[a->self] : "?", error);
    run_agent_free(a);
    return status == ARI_EINVAL ? 2 : 1;
}

int run_agent_start(run_agent_t *a, ctl_header_t *ctl, uint32_t timeout_ms)
{
    char error[RUN_CLUSTER_ERROR_MAX];
    int status = bridge_start(a->bridge, ctl, &a->table, error, sizeof error);
    if (status == ARI_OK)
        status = bridge_wait_ready(a->bridge, timeout_ms, error, sizeof error);
    if (status == ARI_OK)
        return 0;
    fprintf(stderr, "ariadne run: host %s: %s\n", a->names[a->self], error);
    return 1;
}

void run_agent_finish(run_agent_t *a, uint32_t linger_ms)
{
    if (a->bridge != NULL)
        bridge_finish(a->bridge, linger_ms);
    run_agent_free(a);
}
