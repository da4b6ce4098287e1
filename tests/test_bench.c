/*
 * `ariadne bench` as a user runs it: one short run of one figure with
 * --json, --csv and --plot, whose rows must parse, name their systems and
 * agree with each other; bad arguments; a command that finds no programs
 * beside it. Speed is never asserted: only that the numbers exist, are
 * ordered as order statistics are, and that the ratios are what their
 * medians say. The MPI and OpenSHMEM peers are checked where they are
 * built, and their skip lines (with the install command) where not.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tools/tool.h"
#include "test.h"
#include "tool_run.h"

/* ------------------------------------------------------------------------
 * A small JSON reader: enough for the bench's output (objects, arrays,
 * strings, numbers, null, true, false), strict about its syntax.
 * ------------------------------------------------------------------------ */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type_t;

typedef struct json json_t;
struct json {
    json_type_t type;
    double number;
    char *string;
    json_t *items;  /* array items or object values */
    char **keys;    /* object keys */
    size_t count;
};

typedef struct {
    const char *at;
    bool bad;
} json_reader_t;

static void json_space(json_reader_t *r)
{
    while (*r->at == ' ' || *r->at == '\n' || *r->at == '\t' || *r->at == '\r')
        r->at++;
}

static char *json_read_string(json_reader_t *r)
{
    if (*r->at != '"') {
        r->bad = true;
        return NULL;
    }
    r->at++;
    size_t cap = strlen(r->at) + 1, n = 0;
    char *out = malloc(cap);
    CHECK(out != NULL);
    while (*r->at != '"') {
        if (*r->at == 0 || (unsigned char)*r->at < 0x20) {
            r->bad = true;
            break;
        }
        if (*r->at == '\\') {
            r->at++;
            if (*r->at == 'u') {
                unsigned code;
                if (sscanf(r->at + 1, "%4x", &code) != 1)
                    r->bad = true;
                out[n++] = code < 0x80 ? (char)code : '?';
                r->at += 5;
                continue;
            }
            if (strchr("\"\\/bfnrt", *r->at) == NULL)
                r->bad = true;
        }
        out[n++] = *r->at++;
    }
    if (*r->at == '"')
        r->at++;
    out[n] = 0;
    return out;
}

static void json_read(json_reader_t *r, json_t *v);

static void json_read_list(json_reader_t *r, json_t *v, char close, bool keyed)
{
    r->at++;
    json_space(r);
    if (*r->at == close) {
        r->at++;
        return;
    }
    for (;;) {
        v->items = realloc(v->items, (v->count + 1) * sizeof *v->items);
        v->keys = realloc(v->keys, (v->count + 1) * sizeof *v->keys);
        CHECK(v->items != NULL && v->keys != NULL);
        json_space(r);
        v->keys[v->count] = keyed ? json_read_string(r) : NULL;
        json_space(r);
        if (keyed && *r->at++ != ':')
            r->bad = true;
        json_read(r, &v->items[v->count++]);
        json_space(r);
        if (*r->at == ',' && !r->bad) {
            r->at++;
            continue;
        }
        if (*r->at != close)
            r->bad = true;
        else
            r->at++;
        return;
    }
}

static void json_read(json_reader_t *r, json_t *v)
{
    memset(v, 0, sizeof *v);
    json_space(r);
    if (r->bad)
        return;
    if (*r->at == '{') {
        v->type = JSON_OBJECT;
        json_read_list(r, v, '}', true);
    } else if (*r->at == '[') {
        v->type = JSON_ARRAY;
        json_read_list(r, v, ']', false);
    } else if (*r->at == '"') {
        v->type = JSON_STRING;
        v->string = json_read_string(r);
    } else if (strncmp(r->at, "null", 4) == 0) {
        r->at += 4;
    } else if (strncmp(r->at, "true", 4) == 0 || strncmp(r->at, "false", 5) == 0) {
        v->type = JSON_BOOL;
        r->at += *r->at == 't' ? 4 : 5;
    } else {
        char *end;
        v->type = JSON_NUMBER;
        v->number = strtod(r->at, &end);
        r->bad |= end == r->at || !isfinite(v->number);
        r->at = end;
    }
}

static void json_free(json_t *v)
{
    for (size_t i = 0; i < v->count; i++) {
        json_free(&v->items[i]);
        if (v->keys != NULL)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

static const json_t *json_get(const json_t *object, const char *key)
{
    for (size_t i = 0; object->type == JSON_OBJECT && i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    return NULL;
}

static const char *json_text(const json_t *object, const char *key)
{
    const json_t *v = json_get(object, key);
    if (v == NULL || v->type != JSON_STRING)
        test_fail(__FILE__, __LINE__, "no string \"%s\" in a row", key);
    return v->string;
}

static double json_number(const json_t *object, const char *key)
{
    const json_t *v = json_get(object, key);
    if (v == NULL || v->type != JSON_NUMBER)
        test_fail(__FILE__, __LINE__, "no number \"%s\" in a row", key);
    return v->number;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

#define CHECK_HAS(text, want)                                                            \
    do {                                                                                 \
        if (strstr((text), (want)) == NULL)                                              \
            test_fail(__FILE__, __LINE__, "no \"%s\" in \"%s\"", (want), (text));        \
    } while (0)

static double bench_scale(void)
{
    const char *text = getenv("ARI_TEST_TIMEOUT_SCALE");
    double scale = text != NULL ? strtod(text, NULL) : 1.0;
    return scale > 0 ? scale : 1.0;
}

static void bench_path(char *out, const char *env, const char *fallback, const char *tail)
{
    const char *dir = getenv(env);
    char joined[PATH_MAX];
    snprintf(joined, sizeof joined, "%s%s", dir != NULL ? dir : fallback, tail);
    if (realpath(joined, out) == NULL)
        test_fail(__FILE__, __LINE__, "%s: %s (run the tests with make check)", joined,
                  strerror(errno));
}

/* Whether `name` is an executable on PATH. */
static bool bench_on_path(const char *name)
{
    const char *path = getenv("PATH");
    char candidate[PATH_MAX];
    for (const char *at = path != NULL ? path : ""; *at;) {
        size_t length = strcspn(at, ":");
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)length, at, name);
        if (access(candidate, X_OK) == 0)
            return true;
        at += length + (at[length] == ':');
    }
    return false;
}

/* Whether the bench will run a peer: its launcher on PATH, its program built. */
static bool bench_peer_runs(const char *launcher, const char *program)
{
    const char *build = getenv("ARI_BUILD") != NULL ? getenv("ARI_BUILD") : "build";
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench/%s", build, program);
    return bench_on_path(launcher) && access(path, X_OK) == 0;
}

static char *bench_read_file(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, strerror(errno));
    return tool_run_slurp_all(file);
}

static void bench_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            bench_remove_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------------------------
 * The rows of one short run
 * ------------------------------------------------------------------------ */

static const json_t *bench_row_of(const json_t *rows, const char *system)
{
    for (size_t i = 0; i < rows->count; i++)
        if (strcmp(json_text(&rows->items[i], "system"), system) == 0)
            return &rows->items[i];
    return NULL;
}

/* Every row: a known system, this figure, a status; measured rows carry
 * their numbers in order. */
static void bench_check_row(const json_t *row)
{
    const char *system = json_text(row, "system"), *status = json_text(row, "status");
    CHECK(strcmp(system, "ariadne") == 0 || strcmp(system, "mpi") == 0 ||
          strcmp(system, "shmem") == 0 || strcmp(system, "limit") == 0);
    CHECK_STR(json_text(row, "figure"), "fetch-add");
    if (strcmp(status, "ok") != 0) {
        CHECK(strcmp(status, "skipped") == 0);
        CHECK(strlen(json_text(row, "reason")) > 0);
        return;
    }
    CHECK_STR(json_text(row, "unit"), "ns");
    CHECK_INT(json_number(row, "samples"), ==, 2000);
    double median = json_number(row, "median"), p99 = json_number(row, "p99");
    CHECK(median > 0 && p99 >= median);
    CHECK(strlen(json_text(row, "setup")) > 20);
}

/* Ariadne's ratio to `system` is its median over the other's. */
static void bench_check_ratio(const json_t *rows, const char *system, const char *key)
{
    const json_t *ariadne = bench_row_of(rows, "ariadne"), *other = bench_row_of(rows, system);
    CHECK(ariadne != NULL && other != NULL);
    double want = json_number(ariadne, "median") / json_number(other, "median");
    double ratio = json_number(ariadne, key);
    if (fabs(ratio - want) > 1e-4 * want)
        test_fail(__FILE__, __LINE__, "%s is %g, want %g", key, ratio, want);
}

/* A peer: measured where it `runs`, else skipped with a line saying how
 * (the install command when its launcher is not on the run's PATH). */
static void bench_check_peer(const json_t *rows, const char *err, const char *system,
                             bool runs, bool installed, const char *key)
{
    const json_t *row = bench_row_of(rows, system);
    CHECK(row != NULL);
    if (runs) {
        CHECK_STR(json_text(row, "status"), "ok");
        bench_check_ratio(rows, system, key);
        return;
    }
    CHECK_STR(json_text(row, "status"), "skipped");
    char line[64];
    snprintf(line, sizeof line, "ariadne bench: %s: skipped: ", system);
    CHECK_HAS(err, line);
    const char *how = installed ? "make bench-progs" : "apt-get install openmpi-bin libopenmpi-dev";
    CHECK_HAS(err, how);
    CHECK_HAS(json_text(row, "reason"), how);
    CHECK(json_get(bench_row_of(rows, "ariadne"), key)->type == JSON_NULL);
}

/* The CSV has the JSON's rows, in the same order, with the same medians. */
static void bench_check_csv(const char *csv, const json_t *rows)
{
    const char *header = "figure,variant,system,status,unit,samples,median,p99,vs_mpi,"
                         "vs_shmem,vs_limit,setup_or_reason\n";
    CHECK(strncmp(csv, header, strlen(header)) == 0);
    const char *line = csv + strlen(header);
    for (size_t i = 0; i < rows->count; i++) {
        const json_t *row = &rows->items[i];
        char start[128];
        snprintf(start, sizeof start, "fetch-add,\"%s\",%s,%s,", json_text(row, "variant"),
                 json_text(row, "system"), json_text(row, "status"));
        if (strncmp(line, start, strlen(start)) != 0)
            test_fail(__FILE__, __LINE__, "CSV line %zu is not \"%s...\": %.200s", i + 2, start,
                      line);
        if (strcmp(json_text(row, "status"), "ok") == 0) {
            char numbers[128];
            snprintf(numbers, sizeof numbers, "ns,2000,%.6g,%.6g,", json_number(row, "median"),
                     json_number(row, "p99"));
            CHECK(strncmp(line + strlen(start), numbers, strlen(numbers)) == 0);
        }
        line = strchr(line, '\n');
        CHECK(line != NULL);
        line++;
    }
    CHECK_STR(line, "");
}

/* The CDF chart: an SVG with a line and a legend entry per measured row. */
static void bench_check_svg(const char *dir, const json_t *rows)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cdf-fetch-add.svg", dir);
    char *svg = bench_read_file(path);
    CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    size_t length = strlen(svg);
    CHECK(length > 8 && strcmp(svg + length - 7, "</svg>\n") == 0);
    int lines = 0, ok = 0;
    for (const char *at = svg; (at = strstr(at, "<polyline")) != NULL; at++)
        lines++;
    for (size_t i = 0; i < rows->count; i++) {
        if (strcmp(json_text(&rows->items[i], "status"), "ok") != 0)
            continue;
        ok++;
        char legend[64];
        snprintf(legend, sizeof legend, ">%s fetch-add (median ",
                 json_text(&rows->items[i], "system"));
        CHECK_HAS(svg, legend);
    }
    CHECK_INT(lines, ==, ok);
    free(svg);
}

/* Parses a run's stdout as the bench's JSON; returns its rows. */
static const json_t *bench_parse(const tool_child_t *run, json_t *top)
{
    json_reader_t reader = {run->out, false};
    json_read(&reader, top);
    json_space(&reader);
    if (reader.bad || *reader.at != 0 || top->type != JSON_OBJECT)
        test_fail(__FILE__, __LINE__, "not one JSON object:\n%s", run->out);
    CHECK_INT(json_number(top, "nodes"), ==, 2);
    const json_t *rows = json_get(top, "rows");
    CHECK(rows != NULL && rows->type == JSON_ARRAY && rows->count >= 4);
    for (size_t i = 0; i < rows->count; i++)
        bench_check_row(&rows->items[i]);
    CHECK_STR(json_text(bench_row_of(rows, "ariadne"), "status"), "ok");
    CHECK_STR(json_text(bench_row_of(rows, "limit"), "status"), "ok");
    bench_check_ratio(rows, "limit", "vs_limit");
    return rows;
}

TEST_FN(bench_tool_rows)
{
    char tool[PATH_MAX], dir[] = "/tmp/ariadne-bench-XXXXXX", csv[PATH_MAX], plots[PATH_MAX];
    bench_path(tool, "ARI_TOOL", "build/ariadne", "");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(csv, sizeof csv, "%s/rows.csv", dir);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    char *argv[] = {tool, "bench", "--only", "fetch-add", "--reps", "1", "--iters", "2000",
                    "--json", "--csv", csv, "--plot", plots, NULL};
    tool_child_t run;
    tool_child_run(&run, argv, NULL, 40.0 * bench_scale());
    if (run.status != 0)
        test_fail(__FILE__, __LINE__, "exit %d\nstdout:\n%s\nstderr:\n%s", run.status, run.out,
                  run.err);
    json_t top;
    const json_t *rows = bench_parse(&run, &top);
    bench_check_peer(rows, run.err, "mpi", bench_peer_runs("mpirun", "mpi_bench"),
                     bench_on_path("mpirun"), "vs_mpi");
    bench_check_peer(rows, run.err, "shmem", bench_peer_runs("oshrun", "shmem_bench"),
                     bench_on_path("oshrun"), "vs_shmem");
    char *text = bench_read_file(csv);
    bench_check_csv(text, rows);
    free(text);
    bench_check_svg(plots, rows);
    json_free(&top);
    tool_child_free(&run);
    bench_remove_tree(dir);
}

/* With no MPI on PATH (as on a machine without OpenMPI) both peers are
 * skipped with the command that installs them, and Ariadne and the limit
 * are measured all the same. */
TEST_FN(bench_tool_peers_missing)
{
    char tool[PATH_MAX];
    bench_path(tool, "ARI_TOOL", "build/ariadne", "");
    char *argv[] = {tool, "bench", "--only", "fetch-add", "--reps", "1", "--iters", "2000",
                    "--json", NULL};
    const char *env[] = {"PATH=/nonexistent", NULL};
    tool_child_t run;
    tool_child_run(&run, argv, env, 40.0 * bench_scale());
    if (run.status != 0)
        test_fail(__FILE__, __LINE__, "exit %d\nstdout:\n%s\nstderr:\n%s", run.status, run.out,
                  run.err);
    json_t top;
    const json_t *rows = bench_parse(&run, &top);
    CHECK_INT(rows->count, ==, 4);
    bench_check_peer(rows, run.err, "mpi", false, false, "vs_mpi");
    bench_check_peer(rows, run.err, "shmem", false, false, "vs_shmem");
    CHECK_HAS(run.err, "OpenMPI is not installed (no mpirun on PATH)");
    json_free(&top);
    tool_child_free(&run);
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static void bench_bad(const char *const *args, int argc, const char *want)
{
    tool_run_t run;
    tool_run(&run, tool_bench_main, "bench", argc, args);
    if (run.exit_status != 2 || strstr(run.err, want) == NULL)
        test_fail(__FILE__, __LINE__, "%s ...: exit %d, stderr \"%s\", want 2 and \"%s\"",
                  args[0], run.exit_status, run.err, want);
    CHECK_STR(run.out, "");
}

/* `ariadne bench ARGS` must exit 2 with `want` in its error. */
#define BENCH_BAD(want, ...)                                                              \
    bench_bad((const char *[]){__VA_ARGS__},                                              \
              (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), want)

TEST_FN(bench_tool_bad_args)
{
    BENCH_BAD("--only: no figure 'nosuch'; the figures are: fetch-add, cas, store, get, "
              "propagation, read-cold, ownership, mutex, barrier, gemm, kvstore",
              "--only", "nosuch");
    BENCH_BAD("no figure ''", "--only", "fetch-add,");
    BENCH_BAD("--nodes needs a whole number from 2 to 64, not '0'", "--nodes", "0");
    BENCH_BAD("not '65'", "--nodes", "65");
    BENCH_BAD("not '2x'", "--nodes", "2x");
    BENCH_BAD("--reps needs a whole number from 1 to 100", "--reps", "0");
    BENCH_BAD("--iters needs a whole number", "--iters", "-5");
    BENCH_BAD("--timeout needs a whole number", "--timeout", "0");
    BENCH_BAD("unknown option '--bogus'", "--bogus");
    BENCH_BAD("--csv needs a value", "--csv");
    BENCH_BAD("unexpected argument 'extra'", "--json", "extra");
    tool_run_t run;
    tool_run(&run, tool_bench_main, "bench", 1, (const char *[]){"--help"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_HAS(run.out, "usage: ariadne bench [--nodes N] [--only NAME,...]");
    static const char *const figures[] = {"fetch-add", "cas", "store", "get", "propagation",
                                          "read-cold", "ownership", "mutex", "barrier", "gemm",
                                          "kvstore"};
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n  %-12s ", figures[i]);
        CHECK_HAS(run.out, line);
    }
    CHECK_HAS(run.out, "apt-get install openmpi-bin libopenmpi-dev");
}

/* A command with no build tree beside it says where it looked and how to
 * build what it needs, and runs nothing. */
TEST_FN(bench_tool_no_programs)
{
    char tool[PATH_MAX], dir[] = "/tmp/ariadne-bench-XXXXXX", copy[PATH_MAX];
    bench_path(tool, "ARI_TOOL", "build/ariadne", "");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(copy, sizeof copy, "%s/ariadne", dir);
    char *cp[] = {"cp", tool, copy, NULL};
    tool_child_t run;
    tool_child_run(&run, cp, NULL, 10.0 * bench_scale());
    CHECK_INT(run.status, ==, 0);
    tool_child_free(&run);
    char *argv[] = {copy, "bench", "--only", "fetch-add", NULL};
    tool_child_run(&run, argv, NULL, 10.0 * bench_scale());
    CHECK_INT(run.status, ==, 1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "ariadne bench: %s/bench/ari_bench not found.", dir);
    CHECK_HAS(run.err, want);
    CHECK_HAS(run.err, "make bench-progs");
    CHECK_STR(run.out, "");
    tool_child_free(&run);
    bench_remove_tree(dir);
}
