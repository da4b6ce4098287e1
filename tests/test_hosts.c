/*
 * Runs across hosts on one machine: `ariadne run --hosts FILE --key FILE`
 * with every host on 127.0.0.1 (each its own port, started by the template
 * `{cmd}`), and under srun's rank variables. The agents, their join, the
 * bridges between hosts and what they report are all the real ones; only
 * the network is loopback (make check-net runs them across network
 * namespaces, with links taken down). And the agents' message format.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "cluster/bmsg.h"
#include "test.h"
#include "tool_run.h"

static const char *hosts_tool(void)
{
    const char *tool = getenv("ARI_TOOL");
    return tool != NULL ? tool : "build/ariadne";
}

static void hosts_example(char *out, size_t size, const char *name)
{
    const char *build = getenv("ARI_BUILD") != NULL ? getenv("ARI_BUILD") : "build";
    snprintf(out, size, "%s/%s", build, name);
}

/* A directory with a key and a hosts file of `hosts` hosts on loopback
 * (slots a host as given), ports apart per process so tests may overlap. */
typedef struct {
    char dir[64], key[96], hosts[96];
} hosts_setup_t;

static void hosts_setup(hosts_setup_t *s, const uint32_t *slots, uint32_t hosts,
                        const char *extra_line)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/ari-hosts-%d", (int)getpid());
    mkdir(s->dir, 0700);
    snprintf(s->key, sizeof s->key, "%s/cluster.key", s->dir);
    snprintf(s->hosts, sizeof s->hosts, "%s/hosts", s->dir);
    unlink(s->key);
    char *argv[] = {(char *)hosts_tool(), "keygen", s->key, NULL};
    tool_child_t child;
    tool_child_run(&child, argv, NULL, 10);
    CHECK(child.status == 0);
    tool_child_free(&child);
    FILE *f = fopen(s->hosts, "w");
    CHECK(f != NULL);
    /* 8 ports a host, 5 hosts at most: below 32768, where the kernel's
     * ephemeral ports (other tests' outgoing connections) begin. */
    unsigned base = 20000u + (unsigned)(getpid() % 300) * 40u;
    fprintf(f, "default launch = {cmd}\n");
    for (uint32_t h = 0; h < hosts; h++)
        fprintf(f, "h%u 127.0.0.1:%u %u%s%s\n", h, base + 8 * h, slots[h],
                extra_line != NULL && h == hosts - 1 ? " " : "",
                extra_line != NULL && h == hosts - 1 ? extra_line : "");
    fclose(f);
}

static void hosts_cleanup(const hosts_setup_t *s)
{
    unlink(s->key);
    unlink(s->hosts);
    rmdir(s->dir);
}

/* ariadne run --hosts --key ARGS... */
static void hosts_run(tool_child_t *child, const hosts_setup_t *s, const char *const *args,
                      double limit)
{
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)hosts_tool();
    argv[n++] = "run";
    argv[n++] = "--hosts";
    argv[n++] = (char *)s->hosts;
    argv[n++] = "--key";
    argv[n++] = (char *)s->key;
    for (int i = 0; args[i] != NULL && n < 39; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    tool_child_run(child, argv, NULL, limit);
}

/* Runs across hosts need the cluster key, which needs libsodium: without
 * it they are skipped, saying so (the join's tests check the refusal). */
#ifdef ARI_HAVE_SODIUM
#define HOSTS_NEED_SODIUM() ((void)0)
#else
#define HOSTS_NEED_SODIUM()                                                             \
    do {                                                                                \
        printf("skipped: built without libsodium (Debian: apt-get install libsodium-dev)\n"); \
        return;                                                                         \
    } while (0)
#endif

static int hosts_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The run succeeded and printed `line` `count` times (else its output is
 * shown before the check fails). */
static void hosts_expect_ok(const tool_child_t *child, const char *line, int count)
{
    if (child->status != 0 || hosts_count(child->out, line) != count)
        printf("out:\n%s\nerr:\n%s\n", child->out, child->err);
    CHECK(child->status == 0);
    CHECK(hosts_count(child->out, line) == count);
}

TEST_FN(hosts_counter_ring)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {1, 1, 1, 2};
    hosts_setup(&s, slots, 4, NULL);
    char counter[256];
    hosts_example(counter, sizeof counter, "examples/counter");
    char json[128];
    snprintf(json, sizeof json, "%s/stats-{host}.json", s.dir);
    const char *args[] = {"-n", "5", "--topo", "ring", "--stats-json", json, counter, "300",
                          NULL};
    tool_child_t child;
    hosts_run(&child, &s, args, 60);
    hosts_expect_ok(&child, "expected 1500: ok", 5);
    tool_child_free(&child);
    /* Each host wrote its own nodes' statistics: h3 has nodes 3 and 4. */
    for (uint32_t h = 0; h < 4; h++) {
        char path[160];
        snprintf(path, sizeof path, "%s/stats-h%u.json", s.dir, h);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL);
        char text[8192];
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        unlink(path);
        CHECK(hosts_count(text, "{\"node\": ") == (h == 3 ? 2 : 1));
        char want[32];
        snprintf(want, sizeof want, "{\"node\": %u,", h);
        CHECK(strstr(text, want) != NULL);
    }
    hosts_cleanup(&s);
}

TEST_FN(hosts_examples_sealed)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {2, 1, 1};
    hosts_setup(&s, slots, 3, NULL);
    char kv[256], gemm[256];
    hosts_example(kv, sizeof kv, "examples/kvstore");
    hosts_example(gemm, sizeof gemm, "examples/gemm");
    const char *kv_args[] = {"-n", "4", "--seal", kv, "--keys", "4096", "--buckets", "128",
                             "--ops", "5000", NULL};
    tool_child_t child;
    hosts_run(&child, &s, kv_args, 120);
    hosts_expect_ok(&child, "verified 4096 keys", 4);
    tool_child_free(&child);
    const char *gemm_args[] = {"-n", "4", "--topo", "ring", gemm, NULL};
    hosts_run(&child, &s, gemm_args, 120);
    if (child.status != 0)
        printf("out:\n%s\nerr:\n%s\n", child.out, child.err);
    CHECK(child.status == 0);
    tool_child_free(&child);
    hosts_cleanup(&s);
}

/* The same ring over UCX links (where the build has UCX). */
TEST_FN(hosts_transport_ucx)
{
    HOSTS_NEED_SODIUM();
#ifndef ARI_HAVE_UCX
    printf("skipped: built without UCX (libucx-dev)\n");
    return;
#endif
    hosts_setup_t s;
    uint32_t slots[] = {1, 2, 1};
    hosts_setup(&s, slots, 3, NULL);
    char counter[256];
    hosts_example(counter, sizeof counter, "examples/counter");
    const char *args[] = {"-n", "4", "--topo", "ring", "--transport", "ucx", counter, "200",
                          NULL};
    tool_child_t child;
    hosts_run(&child, &s, args, 60);
    hosts_expect_ok(&child, "expected 800: ok", 4);
    tool_child_free(&child);
    hosts_cleanup(&s);
}

/* A pin held past its limit on one host: the holder's report names the
 * host, and the waiter on another host gets the page all the same. */
TEST_FN(hosts_pin_limit)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {2, 1};
    hosts_setup(&s, slots, 2, NULL);
    char rt[256];
    hosts_example(rt, sizeof rt, "rt/rt_check");
    setenv("ARI_PIN_MS", "200", 1); /* a forked test: its environment is its own */
    const char *args[] = {"-n", "3", rt, "pinlimit", NULL};
    tool_child_t child;
    hosts_run(&child, &s, args, 60);
    hosts_expect_ok(&child, "pinlimit: node", 3);
    CHECK(hosts_count(child.err, "node 2 on host h1 held a pin on") == 1);
    CHECK(strstr(child.err, "past the pin limit (ARI_PIN_MS=200 ms)") != NULL);
    tool_child_free(&child);
    hosts_cleanup(&s);
}

/* A node killed on one host: every other host reports it, with its pages,
 * and every call that needed it fails instead of hanging. */
TEST_FN(hosts_node_death)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {1, 1, 1, 1};
    hosts_setup(&s, slots, 4, NULL);
    char rt[256];
    hosts_example(rt, sizeof rt, "rt/rt_check");
    const char *args[] = {"-n", "4", "--topo", "ring", rt, "killed", NULL};
    tool_child_t child;
    hosts_run(&child, &s, args, 60);
    CHECK(child.status != 0);
    CHECK(strstr(child.err, "node 3 was killed by signal 9") != NULL);
    CHECK(hosts_count(child.err, "node 3 (on host h3) left the run without ari_finalize; the "
                                 "pages it owned are lost") == 3);
    CHECK(hosts_count(child.out, "a node this call needed has died") >= 1);
    tool_child_free(&child);
    hosts_cleanup(&s);
}

/* A whole host gone (its agent killed): the others find no route to it,
 * report its nodes lost and end the run. */
TEST_FN(hosts_host_lost)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {1, 1, 1};
    hosts_setup(&s, slots, 3, NULL);
    char counter[256], script[512];
    hosts_example(counter, sizeof counter, "examples/counter");
    /* Host h2's agent kills itself a second into the run. */
    snprintf(script, sizeof script, "%s/h2.sh", s.dir);
    FILE *f = fopen(script, "w");
    CHECK(f != NULL);
    fprintf(f, "\"$@\" & agent=$!\nsleep 1.5\nkill -9 $agent\nwait\n");
    fclose(f);
    hosts_setup_t t = s;
    uint32_t slots3[] = {1, 1, 1};
    char line[600];
    snprintf(line, sizeof line, "launch = sh %s {cmd}", script);
    hosts_setup(&t, slots3, 3, line);
    const char *args[] = {"-n", "3", "--heartbeat", "200", counter, "1000000", NULL};
    tool_child_t child;
    hosts_run(&child, &t, args, 60);
    CHECK(child.status != 0);
    if (strstr(child.err, "host h2 is lost") == NULL)
        printf("out:\n%s\nerr:\n%s\n", child.out, child.err);
    CHECK(hosts_count(child.err, "host h2 is lost: no link has reached it") == 2);
    CHECK(strstr(child.err, "its nodes 2 to 2 are lost, with the pages they owned") != NULL);
    tool_child_free(&child);
    unlink(script);
    hosts_cleanup(&t);
}

/* A host holding another key: refused at the join, nothing runs. Needs a
 * mount namespace (root) to give one host another file at the same path. */
TEST_FN(hosts_wrong_key)
{
    HOSTS_NEED_SODIUM();
    if (geteuid() != 0) {
        printf("skipped: needs root (unshare -m)\n");
        return;
    }
    hosts_setup_t s;
    uint32_t slots[] = {1, 1};
    hosts_setup(&s, slots, 2, NULL);
    char wrong[128], line[512];
    snprintf(wrong, sizeof wrong, "%s/wrong.key", s.dir);
    char *argv[] = {(char *)hosts_tool(), "keygen", wrong, NULL};
    tool_child_t child;
    tool_child_run(&child, argv, NULL, 10);
    CHECK(child.status == 0);
    tool_child_free(&child);
    snprintf(line, sizeof line,
             "launch = unshare -m sh -c 'mount --bind %s %s && exec \"$0\" \"$@\"' {cmd}", wrong,
             s.key);
    hosts_setup_t t = s;
    hosts_setup(&t, slots, 2, line);
    /* hosts_setup made a new key: the wrong one stays wrong. */
    char counter[256];
    hosts_example(counter, sizeof counter, "examples/counter");
    const char *args[] = {"-n", "2", counter, "10", NULL};
    hosts_run(&child, &t, args, 60);
    CHECK(child.status != 0);
    CHECK(strstr(child.err, "did not prove it holds the cluster key") != NULL);
    CHECK(strstr(child.err, "the agent of host h1 exited") != NULL);
    CHECK(strstr(child.out, "[0]") == NULL); /* no node ran */
    tool_child_free(&child);
    unlink(wrong);
    hosts_cleanup(&t);
}

/* Under srun: every process one node, rank 0 the coordinator. */
TEST_FN(hosts_srun_ranks)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {1};
    hosts_setup(&s, slots, 1, NULL);
    char counter[256], coordinator[64];
    hosts_example(counter, sizeof counter, "examples/counter");
    snprintf(coordinator, sizeof coordinator, "127.0.0.1:%d", 18000 + (int)(getpid() % 2000));
    pid_t pids[3];
    for (int r = 0; r < 3; r++) {
        fflush(NULL);
        pids[r] = fork();
        CHECK(pids[r] >= 0);
        if (pids[r] == 0) {
            char rank[16];
            snprintf(rank, sizeof rank, "%d", r);
            setenv("SLURM_PROCID", rank, 1);
            setenv("SLURM_NTASKS", "3", 1);
            freopen("/dev/null", "w", stdout);
            execl(hosts_tool(), hosts_tool(), "run", "--key", s.key, "--coordinator",
                  coordinator, counter, "100", (char *)NULL);
            _exit(127);
        }
    }
    for (int r = 0; r < 3; r++) {
        int status;
        CHECK(waitpid(pids[r], &status, 0) == pids[r]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    hosts_cleanup(&s);
}

/* Under Open MPI's mpirun (when installed): OMPI_COMM_WORLD_RANK. */
TEST_FN(hosts_mpirun_ranks)
{
    HOSTS_NEED_SODIUM();
    if (access("/usr/bin/mpirun", X_OK) != 0) {
        printf("skipped: no /usr/bin/mpirun (Debian: apt-get install openmpi-bin)\n");
        return;
    }
    hosts_setup_t s;
    uint32_t slots[] = {1};
    hosts_setup(&s, slots, 1, NULL);
    char counter[256], coordinator[64];
    hosts_example(counter, sizeof counter, "examples/counter");
    snprintf(coordinator, sizeof coordinator, "127.0.0.1:%d", 18000 + (int)(getpid() % 2000));
    char *argv[] = {"/usr/bin/mpirun", "-np", "3", "--oversubscribe", (char *)hosts_tool(),
                    "run", "--key", s.key, "--coordinator", coordinator, counter, "100", NULL};
    const char *env[] = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                         "OMPI_MCA_rmaps_base_oversubscribe=1", NULL};
    tool_child_t child;
    tool_child_run(&child, argv, env, 60);
    hosts_expect_ok(&child, "expected 300: ok", 3);
    CHECK(strstr(child.out, "[2] node 2:") != NULL); /* the rank is the node */
    tool_child_free(&child);
    hosts_cleanup(&s);
}

TEST_FN(hosts_bad_arguments)
{
    HOSTS_NEED_SODIUM();
    hosts_setup_t s;
    uint32_t slots[] = {1, 1};
    hosts_setup(&s, slots, 2, NULL);
    char *argv[] = {(char *)hosts_tool(), "run", "--hosts", s.hosts, "-n", "2", "true", NULL};
    tool_child_t child;
    tool_child_run(&child, argv, NULL, 10);
    CHECK(child.status == 2);
    CHECK(strstr(child.err, "--hosts needs --key FILE") != NULL);
    tool_child_free(&child);
    const char *more[] = {"-n", "3", "true", NULL};
    hosts_run(&child, &s, more, 10);
    CHECK(child.status == 2);
    CHECK(strstr(child.err, "3 nodes") != NULL || strstr(child.err, "slots") != NULL);
    tool_child_free(&child);
    const char *json[] = {"-n", "2", "--stats-json", "/tmp/stats.json", "true", NULL};
    hosts_run(&child, &s, json, 10);
    CHECK(child.status == 2);
    CHECK(strstr(child.err, "--stats-json across hosts needs {host} in FILE") != NULL);
    tool_child_free(&child);
    const char *transport[] = {"-n", "2", "--transport", "carrier-pigeon", "true", NULL};
    hosts_run(&child, &s, transport, 10);
    CHECK(child.status == 2);
    CHECK(strstr(child.err, "--transport must be tcp or ucx") != NULL);
    tool_child_free(&child);
    FILE *f = fopen(s.hosts, "w");
    CHECK(f != NULL);
    fprintf(f, "h0 127.0.0.1 1\nh1 10.0.0.300 1\n");
    fclose(f);
    const char *bad[] = {"-n", "2", "true", NULL};
    hosts_run(&child, &s, bad, 10);
    CHECK(child.status == 2);
    CHECK(strstr(child.err, "hosts:2: address '10.0.0.300'") != NULL);
    tool_child_free(&child);
    hosts_cleanup(&s);
}

/* ------------------------------------------------------------------------
 * The agents' messages
 * ------------------------------------------------------------------------ */

TEST_FN(hosts_bmsg_roundtrip)
{
    uint8_t buf[512], nonce[BMSG_NONCE_BYTES];
    memset(nonce, 7, sizeof nonce);
    bmsg_t m;
    size_t n = bmsg_encode_hello(buf, sizeof buf, 2, 5, nonce);
    CHECK(bmsg_decode(buf, n, &m) == ARI_OK && m.type == BMSG_HELLO && m.host == 2 &&
          m.hosts == 5 && memcmp(m.nonce, nonce, sizeof nonce) == 0);
    CHECK(bmsg_decode(buf, n - 1, &m) == ARI_EMSG_SHORT);
    CHECK(bmsg_decode(buf, n, &m) == ARI_OK);
    buf[4] = 9; /* host 9 of 5 */
    CHECK(bmsg_decode(buf, n, &m) == ARI_EMSG_FIELD);
    uint32_t list[] = {0, 3};
    n = bmsg_encode_lsa(buf, sizeof buf, 1, 42, list, 2);
    CHECK(bmsg_decode(buf, n, &m) == ARI_OK && m.origin == 1 && m.seq == 42 && m.count == 2);
    CHECK(bmsg_decode(buf, n + 1, &m) == ARI_EMSG_TRAILING);
    n = bmsg_encode_data_header(buf, sizeof buf, 0, 1, 7);
    n += bmsg_encode_record(buf + n, sizeof buf - n, 12, (const uint8_t *)"abc", 3);
    bmsg_control_t c = {BMSG_CONTROL_STATE, 3, 2};
    uint8_t cb[BMSG_CONTROL_BYTES_MAX];
    size_t k = bmsg_encode_control(cb, sizeof cb, &c);
    n += bmsg_encode_record(buf + n, sizeof buf - n, BMSG_RING_CONTROL, cb, (uint32_t)k);
    CHECK(bmsg_decode(buf, n, &m) == ARI_OK && m.type == BMSG_DATA && m.seq == 7);
    size_t offset = 0;
    bmsg_record_t r;
    CHECK(bmsg_record_next(&m, &offset, &r) && r.ring == 12 && r.length == 3 &&
          memcmp(r.bytes, "abc", 3) == 0);
    CHECK(bmsg_record_next(&m, &offset, &r) && r.ring == BMSG_RING_CONTROL);
    bmsg_control_t back;
    CHECK(bmsg_control_decode(r.bytes, r.length, &back) == ARI_OK && back.kind == c.kind &&
          back.node == 3 && back.value == 2);
    CHECK(!bmsg_record_next(&m, &offset, &r));
    CHECK(bmsg_decode(buf, n - 1, &m) == ARI_EMSG_SHORT); /* a record cut short */
    buf[n - k] = 99;                                      /* an unknown control kind */
    CHECK(bmsg_decode(buf, n, &m) == ARI_EMSG_TYPE);
    n = bmsg_encode_ack(buf, sizeof buf, 1, 1, 3); /* to itself */
    CHECK(bmsg_decode(buf, n, &m) == ARI_EMSG_FIELD);
    buf[2] = 2;
    CHECK(bmsg_decode(buf, n, &m) == ARI_EMSG_VERSION);
}

/* Random bytes never crash the decoder, and what decodes is well formed. */
TEST_FN(hosts_bmsg_random)
{
    uint64_t seed = 0x5eed;
    uint8_t buf[256];
    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)(seed % sizeof buf);
        for (size_t j = 0; j < n; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[j] = (uint8_t)(seed >> 56);
        }
        if (n >= 4 && (seed & 1)) {
            buf[0] = 'A';
            buf[1] = 'L';
            buf[2] = 1;
            buf[3] = (uint8_t)(1 + (seed >> 8) % 6);
        }
        bmsg_t m;
        int status = bmsg_decode(buf, n, &m);
        if (status != ARI_OK && (status > ARI_EMSG_SHORT || status < ARI_EMSG_SPACE)) {
            printf("replay: iteration %d, status %d\n", i, status);
            CHECK(0);
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    }
}
