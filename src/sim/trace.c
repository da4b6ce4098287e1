/*
 * trace — the access-trace parser: a line at a time, every field checked,
 * the first bad line reported with its number.
 */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gva.h"
#include "core/msg.h"

#define SIM_TRACE_FIELDS 8
#define SIM_TRACE_LINE_MAX 512

typedef struct {
    const char *name;
    size_t line;
    char *error;
    size_t error_size;
} sim_trace_ctx_t;

__attribute__((format(printf, 2, 3))) static int sim_trace_error(sim_trace_ctx_t *c,
                                                                  const char *fmt, ...)
{
    int n = snprintf(c->error, c->error_size, "%s:%zu: ", c->name, c->line);
    va_list args;
    va_start(args, fmt);
    if (n >= 0 && (size_t)n < c->error_size)
        vsnprintf(c->error + n, c->error_size - (size_t)n, fmt, args);
    va_end(args);
    return ARI_EINVAL;
}

static int sim_trace_number(sim_trace_ctx_t *c, const char *text, const char *what,
                            uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value > max)
        return sim_trace_error(c, "%s '%s' is not a number from 0 to %llu", what, text,
                               (unsigned long long)max);
    *out = value;
    return ARI_OK;
}

/* Splits a line into at most SIM_TRACE_FIELDS words; -1 if more. */
static int sim_trace_split(char *line, char **fields)
{
    int count = 0;
    char *save = NULL;
    for (char *word = strtok_r(line, " \t\r", &save); word != NULL;
         word = strtok_r(NULL, " \t\r", &save)) {
        if (count == SIM_TRACE_FIELDS)
            return -1;
        fields[count++] = word;
    }
    return count;
}

static const struct {
    const char *name;
    dpu_op_t op;
    int fields_min, fields_max; /* counting TIME NODE OP INDEX */
} sim_trace_ops[] = {
    {"read", DPU_OP_READ, 4, 5},     {"write", DPU_OP_WRITE, 6, 6},
    {"get", DPU_OP_GET, 6, 6},       {"atomic", DPU_OP_ATOMIC, 7, 8},
    {"unref", DPU_OP_UNREF, 4, 4},   {"free", DPU_OP_FREE, 4, 4},
};

static int sim_trace_atomic(sim_trace_ctx_t *c, char **f, int n, sim_trace_op_t *op)
{
    if (strcmp(f[5], "cas") == 0)
        op->atomic_op = MSG_ATOMIC_CAS;
    else if (strcmp(f[5], "fetch-add") == 0)
        op->atomic_op = MSG_ATOMIC_FETCH_ADD;
    else if (strcmp(f[5], "swap") == 0)
        op->atomic_op = MSG_ATOMIC_SWAP;
    else
        return sim_trace_error(c, "atomic op '%s' is not cas, fetch-add or swap", f[5]);
    if ((op->atomic_op == MSG_ATOMIC_CAS) != (n == 8))
        return sim_trace_error(c, "cas takes two values (expected, desired), %s one",
                               op->atomic_op == MSG_ATOMIC_CAS ? "not" : "other atomics");
    if (op->offset % 8 != 0 || op->offset + 8 > GVA_PAGE_SIZE)
        return sim_trace_error(c, "atomic offset %u is not an aligned word in the page",
                               op->offset);
    int status = sim_trace_number(c, f[6], "value", UINT64_MAX, &op->arg0);
    if (status == ARI_OK && n == 8)
        status = sim_trace_number(c, f[7], "value", UINT64_MAX, &op->arg1);
    return status;
}

/* The fields after TIME NODE OP INDEX. */
static int sim_trace_op_args(sim_trace_ctx_t *c, char **f, int n, sim_trace_op_t *op)
{
    uint64_t a = 0, b = 0;
    int status = ARI_OK;
    if (op->op == DPU_OP_READ) {
        op->pages = 1;
        if (n == 5 && (status = sim_trace_number(c, f[4], "pages", MSG_RUN_MAX, &a)) == ARI_OK)
            op->pages = a == 0 ? 1 : (uint32_t)a;
        return status;
    }
    if (n < 5)
        return ARI_OK;
    status = sim_trace_number(c, f[4], "offset", GVA_PAGE_SIZE - 1, &a);
    op->offset = (uint32_t)a;
    if (status != ARI_OK || op->op == DPU_OP_ATOMIC)
        return status != ARI_OK ? status : sim_trace_atomic(c, f, n, op);
    status = sim_trace_number(c, f[5], "length", GVA_PAGE_SIZE, &b);
    if (status == ARI_OK && (b == 0 || a + b > GVA_PAGE_SIZE))
        return sim_trace_error(c, "bytes %llu..%llu are not inside a 4096-byte page",
                               (unsigned long long)a, (unsigned long long)(a + b));
    op->length = (uint32_t)b;
    return status;
}

static int sim_trace_op(sim_trace_ctx_t *c, char **f, int n, uint32_t nodes,
                        const sim_trace_t *trace, uint64_t last_time, sim_trace_op_t *op)
{
    uint64_t time, node, index;
    int status = sim_trace_number(c, f[0], "time", UINT64_MAX / 2, &time);
    if (status == ARI_OK)
        status = sim_trace_number(c, f[1], "node", nodes - 1, &node);
    if (status != ARI_OK)
        return status;
    if (time < last_time)
        return sim_trace_error(c, "time %llu is before the line above (%llu)",
                               (unsigned long long)time, (unsigned long long)last_time);
    size_t kind = 0;
    while (kind < sizeof sim_trace_ops / sizeof sim_trace_ops[0] &&
           strcmp(f[2], sim_trace_ops[kind].name) != 0)
        kind++;
    if (kind == sizeof sim_trace_ops / sizeof sim_trace_ops[0])
        return sim_trace_error(c, "unknown request '%s' (read, write, get, atomic, unref, free)",
                               f[2]);
    if (n < sim_trace_ops[kind].fields_min || n > sim_trace_ops[kind].fields_max)
        return sim_trace_error(c, "'%s' takes %d to %d fields, this line has %d", f[2],
                               sim_trace_ops[kind].fields_min, sim_trace_ops[kind].fields_max, n);
    if ((status = sim_trace_number(c, f[3], "page", UINT32_MAX, &index)) != ARI_OK)
        return status;
    if (index >= trace->pages || trace->births[index] == UINT32_MAX)
        return sim_trace_error(c, "page %llu is not declared above (page INDEX BIRTH)",
                               (unsigned long long)index);
    *op = (sim_trace_op_t){.time_ns = time, .node = (uint32_t)node, .page = (uint32_t)index,
                           .op = sim_trace_ops[kind].op};
    return sim_trace_op_args(c, f, n, op);
}

static int sim_trace_page(sim_trace_ctx_t *c, char **f, int n, uint32_t nodes, sim_trace_t *trace)
{
    uint64_t index, birth;
    if (n != 3)
        return sim_trace_error(c, "'page' takes INDEX BIRTH");
    int status = sim_trace_number(c, f[1], "page", SIM_TRACE_PAGES_MAX - 1, &index);
    if (status == ARI_OK)
        status = sim_trace_number(c, f[2], "birth node", nodes - 1, &birth);
    if (status != ARI_OK)
        return status;
    if (index >= trace->pages) {
        uint32_t *grown = realloc(trace->births, (index + 1) * sizeof *grown);
        if (grown == NULL)
            return ARI_ENOMEM;
        for (uint64_t i = trace->pages; i <= index; i++)
            grown[i] = UINT32_MAX;
        trace->births = grown;
        trace->pages = (uint32_t)index + 1;
    }
    if (trace->births[index] != UINT32_MAX)
        return sim_trace_error(c, "page %llu is declared twice", (unsigned long long)index);
    trace->births[index] = (uint32_t)birth;
    return ARI_OK;
}

static int sim_trace_push(sim_trace_t *trace, size_t *capacity, const sim_trace_op_t *op)
{
    if (trace->count == *capacity) {
        size_t grown_capacity = *capacity ? 2 * *capacity : 256;
        sim_trace_op_t *grown = realloc(trace->ops, grown_capacity * sizeof *grown);
        if (grown == NULL)
            return ARI_ENOMEM;
        trace->ops = grown;
        *capacity = grown_capacity;
    }
    trace->ops[trace->count++] = *op;
    return ARI_OK;
}

static int sim_trace_line(sim_trace_ctx_t *c, char *line, uint32_t nodes, sim_trace_t *trace,
                          size_t *capacity)
{
    char *hash = strchr(line, '#');
    if (hash != NULL)
        *hash = '\0';
    char *f[SIM_TRACE_FIELDS];
    int n = sim_trace_split(line, f);
    if (n == 0)
        return ARI_OK;
    if (n < 0)
        return sim_trace_error(c, "too many fields");
    if (strcmp(f[0], "page") == 0)
        return sim_trace_page(c, f, n, nodes, trace);
    if (n < 4)
        return sim_trace_error(c, "expected TIME NODE REQUEST PAGE ...");
    if (trace->count == SIM_TRACE_OPS_MAX)
        return sim_trace_error(c, "more than %u requests", SIM_TRACE_OPS_MAX);
    sim_trace_op_t op;
    uint64_t last = trace->count ? trace->ops[trace->count - 1].time_ns : 0;
    int status = sim_trace_op(c, f, n, nodes, trace, last, &op);
    return status == ARI_OK ? sim_trace_push(trace, capacity, &op) : status;
}

int sim_trace_parse(const char *name, const char *text, size_t size, uint32_t nodes,
                    sim_trace_t **trace_out, char *error, size_t error_size)
{
    sim_trace_ctx_t c = {name, 0, error, error_size};
    sim_trace_t *trace = calloc(1, sizeof *trace);
    if (trace == NULL)
        return ARI_ENOMEM;
    size_t capacity = 0;
    int status = ARI_OK;
    for (size_t at = 0; at < size && status == ARI_OK;) {
        const char *end = memchr(text + at, '\n', size - at);
        size_t length = (end ? (size_t)(end - text) : size) - at;
        char line[SIM_TRACE_LINE_MAX];
        c.line++;
        if (length >= sizeof line)
            status = sim_trace_error(&c, "line longer than %d bytes", SIM_TRACE_LINE_MAX - 1);
        else if (memchr(text + at, '\0', length) != NULL)
            status = sim_trace_error(&c, "a NUL byte in the line");
        else {
            memcpy(line, text + at, length);
            line[length] = '\0';
            status = sim_trace_line(&c, line, nodes, trace, &capacity);
        }
        at += length + 1;
    }
    if (status == ARI_OK && trace->count == 0)
        status = sim_trace_error(&c, "no requests in the trace");
    if (status != ARI_OK) {
        sim_trace_free(trace);
        return status;
    }
    *trace_out = trace;
    return ARI_OK;
}

void sim_trace_free(sim_trace_t *trace)
{
    if (trace == NULL)
        return;
    free(trace->births);
    free(trace->ops);
    free(trace);
}
