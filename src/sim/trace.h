/*
 * trace — recorded access traces the simulator can replay
 * (`ariadne sim --workload trace:FILE`), one request a line:
 *
 *   # comments and blank lines are ignored
 *   page INDEX BIRTH                       page INDEX is born on node BIRTH
 *   TIME NODE read INDEX [PAGES]           make the replica valid (a run of PAGES)
 *   TIME NODE write INDEX OFFSET LENGTH    write LENGTH bytes (a pattern) at OFFSET
 *   TIME NODE get INDEX OFFSET LENGTH      fresh read at the owner
 *   TIME NODE atomic INDEX OFFSET OP ARG [ARG2]   OP: cas, fetch-add or swap
 *   TIME NODE unref INDEX                  drop the replica
 *   TIME NODE free INDEX                   the owner frees the page
 *
 * TIME is in ns and never decreases; NODE < the topology's nodes; a page is
 * declared before it is used. Every error names its file and line.
 */
#ifndef ARIADNE_SIM_TRACE_H
#define ARIADNE_SIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/dpu.h"

#define SIM_TRACE_PAGES_MAX (1u << 20)
#define SIM_TRACE_OPS_MAX (1u << 26)

typedef struct {
    uint64_t time_ns;
    uint32_t node;
    uint32_t page;       /* index into the declared pages */
    dpu_op_t op;
    uint32_t offset, length, pages;
    uint8_t atomic_op;
    uint64_t arg0, arg1;
} sim_trace_op_t;

typedef struct sim_trace {
    uint32_t *births;    /* per page index: its birth node (UINT32_MAX: not declared) */
    uint32_t pages;
    sim_trace_op_t *ops;
    size_t count;
} sim_trace_t;

/* Parses a trace. ARI_EINVAL with "name:line: what" in error for a bad
 * line; ARI_ENOMEM. */
int sim_trace_parse(const char *name, const char *text, size_t size, uint32_t nodes,
                    sim_trace_t **trace_out, char *error, size_t error_size);
void sim_trace_free(sim_trace_t *trace);

#endif /* ARIADNE_SIM_TRACE_H */
