/*
 * run_cluster — `ariadne run` across hosts (docs/CLUSTER.md): the launcher
 * (--hosts FILE: starts one agent per host through its launch template and
 * coordinates their join) and the agent's setup (join, then the bridge that
 * carries the rings between hosts). cmd_run.c runs an agent's nodes as it
 * runs a single host's.
 */
#ifndef ARIADNE_TOOLS_RUN_CLUSTER_H
#define ARIADNE_TOOLS_RUN_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/bridge.h"
#include "cluster/hosts.h"
#include "cluster/key.h"
#include "cluster/link.h"

#define RUN_AGENT_NONE (-1)

typedef struct {
    const char *hosts_file;  /* --hosts */
    const char *key_file;    /* --key */
    const char *coordinator; /* --coordinator ADDR[:PORT] */
    link_kind_t transport;   /* --transport */
    uint32_t heartbeat_ms;   /* --heartbeat */
    bool seal;               /* --seal */
    int agent;               /* --agent I: this process is host I's agent */
} run_cluster_options_t;

/* What an agent knows of the run. */
typedef struct {
    uint32_t agents, self;      /* hosts that run nodes; this one's index */
    uint32_t first, count;      /* this host's nodes */
    uint32_t *host_of;          /* node -> agent */
    char **names;               /* agent -> host name */
    cluster_endpoint_t *endpoints; /* agent -> where it listens (hosts file) */
    uint32_t *file_index;       /* agent -> the host's index in the hosts file */
    cluster_hosts_t hosts;
    bool hosts_loaded;
    cluster_key_t key;
    bridge_t *bridge;
    topo_t *topo;
    cluster_table_t table;
} run_agent_t;

/* True when this `ariadne run` starts agents on hosts (--hosts without --agent). */
bool run_cluster_is_launcher(const run_cluster_options_t *o);
/* True when this process is an agent: --agent, or --key under srun/mpirun. */
bool run_cluster_is_agent(const run_cluster_options_t *o);

/* The launcher: returns the exit status (the worst agent's). `passthrough`
 * holds the run options every agent gets (NULL-terminated), `program` the
 * program and its arguments. */
int run_cluster_launch(const run_cluster_options_t *o, uint32_t nodes, const char *spec,
                       char *const *passthrough, char *const *program);

/* An agent, before its control region exists: plan, listen, join.
 * Returns 0, or an exit status after printing why. */
int run_agent_setup(run_agent_t *agent, const run_cluster_options_t *o, uint32_t *nodes,
                    const char *spec);
/* With the region made: starts the bridge and waits for every host. */
int run_agent_start(run_agent_t *agent, ctl_header_t *ctl, uint32_t timeout_ms);
/* Every node here is gone: lingers for the others, then frees. */
void run_agent_finish(run_agent_t *agent, uint32_t linger_ms);

#endif /* ARIADNE_TOOLS_RUN_CLUSTER_H */
