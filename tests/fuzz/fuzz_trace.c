/*
 * libFuzzer target for the access-trace parser: any bytes parse into a
 * trace whose every request names a declared page and a node in range, or
 * fail with ARI_EINVAL and a "name:line: ..." message.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[256] = "";
    sim_trace_t *trace = NULL;
    int status = sim_trace_parse("f", (const char *)data, size, 16, &trace, error, sizeof error);
    if (status != ARI_OK) {
        if (status != ARI_EINVAL || strncmp(error, "f:", 2) != 0)
            abort();
        return 0;
    }
    uint64_t last = 0;
    for (size_t i = 0; i < trace->count; i++) {
        const sim_trace_op_t *op = &trace->ops[i];
        if (op->node >= 16 || op->page >= trace->pages || trace->births[op->page] >= 16 ||
            op->time_ns < last)
            abort();
        last = op->time_ns;
    }
    sim_trace_free(trace);
    return 0;
}
