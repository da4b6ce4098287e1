/*
 * test_join — the cluster key file, the join's wire format, sealed frames,
 * and the join itself over loopback: nodes with the key join; a node
 * without it, a fake coordinator, malformed frames and silent peers are
 * refused, logged and change nothing. In a build without libsodium each
 * test checks instead that the calls say how to get it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ariadne.h"
#include "cluster/crypto.h"
#include "cluster/frame.h"
#include "cluster/join.h"
#include "cluster/key.h"
#include "cluster/net.h"
#include "cluster/session.h"
#include "test.h"
#include "../tools/tool.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* True with libsodium. Without it, checks every entry point says so with
 * the apt-get line, and the test ends there. */
static bool join_test_sodium(void)
{
#ifdef ARI_HAVE_SODIUM
    CHECK(cluster_crypto_available());
    return true;
#else
    CHECK(!cluster_crypto_available());
    char error[CLUSTER_JOIN_ERROR_MAX];
    cluster_key_t key = {{1}};
    cluster_coordinator_t *coordinator = NULL;
    cluster_coordinator_config_t config = {.key = &key, .nodes = 2};
    CHECK_INT(cluster_coordinator_open(&config, "127.0.0.1", 0, &coordinator, error, sizeof error),
              ==, ARI_ENOTSUP);
    CHECK(strstr(error, "apt-get install libsodium-dev") != NULL);
    CHECK(coordinator == NULL);
    cluster_join_config_t join = {.key = &key, .coordinator_addr = "127.0.0.1",
                                  .coordinator_port = 1, .self = {"127.0.0.1", 2}};
    cluster_table_t table = {0, NULL};
    cluster_session_t session;
    error[0] = '\0';
    CHECK_INT(cluster_node_join(&join, &table, &session, error, sizeof error), ==, ARI_ENOTSUP);
    CHECK_STR(error, CLUSTER_CRYPTO_MISSING);
    error[0] = '\0';
    CHECK_INT(cluster_key_generate(&key, error, sizeof error), ==, ARI_ENOTSUP);
    CHECK_STR(error, CLUSTER_CRYPTO_MISSING);
    uint8_t nonce[CLUSTER_NONCE_BYTES] = {0}, out[64];
    size_t size;
    CHECK_INT(cluster_session_derive(&key, nonce, nonce, 0, CLUSTER_SIDE_NODE, &session, error,
                                     sizeof error),
              ==, ARI_ENOTSUP);
    CHECK_INT(cluster_session_seal(&session, nonce, 4, out, sizeof out, &size), ==, ARI_ENOTSUP);
    printf("no libsodium: the join's calls return ARI_ENOTSUP with: %s\n", error);
    return false;
#endif
}

static cluster_key_t join_test_key(uint8_t seed)
{
    cluster_key_t key;
    for (size_t i = 0; i < sizeof key.bytes; i++)
        key.bytes[i] = (uint8_t)(seed * 31 + i);
    return key;
}

/* The coordinator's log, kept in memory. */
typedef struct {
    FILE *file;
    char *text;
    size_t size;
} join_log_t;

static void join_log_open(join_log_t *log)
{
    log->text = NULL;
    log->size = 0;
    log->file = open_memstream(&log->text, &log->size);
    CHECK(log->file != NULL);
}

static void join_log_close(join_log_t *log)
{
    fclose(log->file);
    free(log->text);
}

static size_t join_log_lines(const join_log_t *log)
{
    size_t lines = 0;
    for (size_t i = 0; i < log->size; i++)
        lines += log->text[i] == '\n';
    return lines;
}

/* Steps the coordinator until the log has `lines` lines, or fails. */
static void join_step_until_logged(cluster_coordinator_t *coordinator, join_log_t *log,
                                   size_t lines, int timeout_ms)
{
    int64_t deadline = cluster_net_now_ms() + timeout_ms;
    while (join_log_lines(log) < lines) {
        if (cluster_net_now_ms() > deadline)
            test_fail(__FILE__, __LINE__, "waited for %zu log lines; have:\n%.*s", lines,
                      (int)log->size, log->text ? log->text : "");
        CHECK_OK(cluster_coordinator_step(coordinator, 20));
    }
}

static void join_check_logged(const join_log_t *log, const char *text)
{
    if (log->text == NULL || strstr(log->text, text) == NULL)
        test_fail(__FILE__, __LINE__, "log lacks '%s'; it holds:\n%.*s", text, (int)log->size,
                  log->text ? log->text : "");
}

static cluster_coordinator_t *join_test_coordinator(const cluster_key_t *key, uint32_t nodes,
                                                    int handshake_ms, join_log_t *log)
{
    cluster_coordinator_config_t config = {.key = key, .nodes = nodes,
                                           .handshake_ms = handshake_ms, .log = log->file};
    cluster_coordinator_t *coordinator = NULL;
    char error[CLUSTER_JOIN_ERROR_MAX];
    CHECK_OK(cluster_coordinator_open(&config, "127.0.0.1", 0, &coordinator, error, sizeof error));
    CHECK(cluster_coordinator_port(coordinator) != 0);
    return coordinator;
}

/* A node joining from a thread. */
typedef struct {
    cluster_join_config_t config;
    cluster_key_t key;
    int status;
    char error[CLUSTER_JOIN_ERROR_MAX];
    cluster_table_t table;
    cluster_session_t session;
    pthread_t thread;
    atomic_bool done;
} join_node_run_t;

static void *join_node_main(void *argument)
{
    join_node_run_t *run = argument;
    run->status = cluster_node_join(&run->config, &run->table, &run->session, run->error,
                                    sizeof run->error);
    atomic_store(&run->done, true);
    return NULL;
}

static void join_node_start(join_node_run_t *run, const cluster_key_t *key, uint16_t port,
                            uint32_t node_id, const char *addr, uint16_t listen_port,
                            int timeout_ms)
{
    memset(run, 0, sizeof *run);
    run->key = *key;
    run->config = (cluster_join_config_t){.key = &run->key, .coordinator_addr = "127.0.0.1",
                                          .coordinator_port = port, .node_id = node_id,
                                          .timeout_ms = timeout_ms};
    snprintf(run->config.self.addr, sizeof run->config.self.addr, "%s", addr);
    run->config.self.port = listen_port;
    atomic_init(&run->done, false);
    CHECK_INT(pthread_create(&run->thread, NULL, join_node_main, run), ==, 0);
}

static void join_node_wait(join_node_run_t *run)
{
    CHECK_INT(pthread_join(run->thread, NULL), ==, 0);
}

/* Steps the coordinator until the node thread has finished. */
static void join_step_until_done(cluster_coordinator_t *coordinator, join_node_run_t *run,
                                 int timeout_ms)
{
    int64_t deadline = cluster_net_now_ms() + timeout_ms;
    while (!atomic_load(&run->done)) {
        CHECK(cluster_net_now_ms() < deadline);
        CHECK_OK(cluster_coordinator_step(coordinator, 20));
    }
    join_node_wait(run);
}

static int join_raw_connect(uint16_t port)
{
    int fd = -1;
    char error[CLUSTER_JOIN_ERROR_MAX];
    CHECK_OK(cluster_net_connect("127.0.0.1", port, cluster_net_now_ms() + 2000, &fd, error,
                                 sizeof error));
    return fd;
}

static void join_raw_send(int fd, const void *bytes, size_t size)
{
    CHECK_OK(cluster_net_send(fd, bytes, size, cluster_net_now_ms() + 2000));
}

/* Reads what the coordinator sends until it closes: returns the byte count. */
static size_t join_raw_drain(int fd, uint8_t *out, size_t size)
{
    size_t have = 0;
    for (;;) {
        struct pollfd entry = {fd, POLLIN, 0};
        CHECK_INT(poll(&entry, 1, 3000), ==, 1);
        ssize_t got = recv(fd, out + have, size - have, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0)
            return have;
        have += (size_t)got;
        CHECK(have < size);
    }
}

/* ------------------------------------------------------------------------
 * The key file
 * ------------------------------------------------------------------------ */

static void join_write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *file = fopen(path, "wb");
    CHECK(file != NULL);
    fputs(text, file);
    fclose(file);
    CHECK_INT(chmod(path, mode), ==, 0);
}

TEST_FN(join_key_file)
{
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    char text[80], error[256];
    cluster_key_t key;
    for (int form = 0; form < 3; form++) {
        snprintf(text, sizeof text, "%s%s", hex, form == 0 ? "" : form == 1 ? "\n" : "\r\n");
        CHECK_OK(cluster_key_parse(text, strlen(text), "k", &key, error, sizeof error));
        for (int i = 0; i < 32; i++)
            CHECK_INT(key.bytes[i], ==, i);
    }
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"0001", "k: a cluster key file holds 64 hex digits and a newline ('ariadne keygen FILE' "
                 "writes one), not 4 bytes"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
         "k: a cluster key file holds 64 hex digits and a newline ('ariadne keygen FILE' writes "
         "one), not 66 bytes"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r",
         "k: a cluster key file holds 64 hex digits and a newline ('ariadne keygen FILE' writes "
         "one), not 65 bytes"},
        {"0001020304050607080g0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
         "k: byte 20 is not a hex digit (a cluster key is 64 hex digits)"},
        {" 001020304050607080f0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
         "k: byte 1 is not a hex digit (a cluster key is 64 hex digits)"},
        {"0000000000000000000000000000000000000000000000000000000000000000\n",
         "k: the key is all zeros; make a real one with 'ariadne keygen FILE'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        key = join_test_key(9);
        CHECK_INT(cluster_key_parse(bad[i].text, strlen(bad[i].text), "k", &key, error,
                                    sizeof error),
                  ==, ARI_EINVAL);
        CHECK_STR(error, bad[i].message);
        CHECK_INT(key.bytes[0], ==, join_test_key(9).bytes[0]); /* untouched */
    }

    /* Permissions: a key others may read is refused. */
    char path[64], expected[256];
    snprintf(path, sizeof path, "/tmp/ari-key-%d", (int)getpid());
    snprintf(text, sizeof text, "%s\n", hex);
    join_write_file(path, text, 0644);
    CHECK_INT(cluster_key_load(path, &key, error, sizeof error), ==, ARI_EPERM);
    snprintf(expected, sizeof expected, "%s: group or others may access it (mode 0644), so it "
             "is no secret; run 'chmod 600 %s'", path, path);
    CHECK_STR(error, expected);
    CHECK_INT(chmod(path, 0640), ==, 0);
    CHECK_INT(cluster_key_load(path, &key, error, sizeof error), ==, ARI_EPERM);
    CHECK_INT(chmod(path, 0600), ==, 0);
    memset(&key, 0, sizeof key);
    CHECK_OK(cluster_key_load(path, &key, error, sizeof error));
    CHECK_INT(key.bytes[31], ==, 31);
    /* Never overwritten. */
    CHECK_INT(cluster_key_save(path, &key, error, sizeof error), ==, ARI_EIO);
    snprintf(expected, sizeof expected, "%s: exists already (a key is never overwritten: remove "
             "it first, or choose another name)", path);
    CHECK_STR(error, expected);
    unlink(path);
    CHECK_INT(cluster_key_load(path, &key, error, sizeof error), ==, ARI_EIO);
    CHECK_INT(cluster_key_load("/tmp", &key, error, sizeof error), ==, ARI_EINVAL);
    CHECK_STR(error, "/tmp: not a regular file (a cluster key file is)");

    /* Saved with mode 0600 and read back. */
    CHECK_OK(cluster_key_save(path, &key, error, sizeof error));
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
    cluster_key_t again;
    CHECK_OK(cluster_key_load(path, &again, error, sizeof error));
    CHECK(memcmp(&again, &key, sizeof key) == 0);
    unlink(path);
    if (!join_test_sodium())
        return;
    cluster_key_t first, second;
    CHECK_OK(cluster_key_generate(&first, error, sizeof error));
    CHECK_OK(cluster_key_generate(&second, error, sizeof error));
    CHECK(memcmp(&first, &second, sizeof first) != 0);
}

/* ------------------------------------------------------------------------
 * Frames
 * ------------------------------------------------------------------------ */

TEST_FN(join_frame_codec)
{
    uint8_t nonce[CLUSTER_NONCE_BYTES], mac[CLUSTER_MAC_BYTES], bytes[512];
    for (int i = 0; i < 32; i++) {
        nonce[i] = (uint8_t)i;
        mac[i] = (uint8_t)(0xa0 + i);
    }
    size_t size;
    /* Exact bytes of a HELLO. */
    cluster_frame_t hello = {.type = CLUSTER_FRAME_HELLO, .nonce = nonce, .node_id = 0x01020304};
    CHECK_OK(cluster_frame_encode(&hello, bytes, sizeof bytes, &size));
    CHECK_INT(size, ==, 8 + 36);
    static const uint8_t header[8] = {'A', 'J', 1, 1, 36, 0, 0, 0};
    CHECK(memcmp(bytes, header, 8) == 0);
    CHECK(memcmp(bytes + 8, nonce, 32) == 0);
    CHECK_INT(bytes[40], ==, 4);
    CHECK_INT(bytes[43], ==, 1);
    cluster_frame_t frame;
    CHECK_OK(cluster_frame_decode(bytes, size, &frame));
    CHECK_INT(frame.type, ==, CLUSTER_FRAME_HELLO);
    CHECK_INT(frame.node_id, ==, 0x01020304);
    CHECK(memcmp(frame.nonce, nonce, 32) == 0);

    /* Every type round-trips. */
    cluster_frame_t frames[] = {
        {.type = CLUSTER_FRAME_CHALLENGE, .nonce = nonce, .mac = mac},
        {.type = CLUSTER_FRAME_CLAIM, .endpoint = {"node-1.example", 7000}, .mac = mac},
        {.type = CLUSTER_FRAME_CLAIM, .endpoint = {"", 7001}, .mac = mac},
        {.type = CLUSTER_FRAME_TABLE, .sealed = bytes + 300, .sealed_size = 40},
        {.type = CLUSTER_FRAME_REFUSE, .reason = CLUSTER_REFUSE_NODE_TAKEN},
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        CHECK_OK(cluster_frame_encode(&frames[i], bytes, 300, &size));
        CHECK_OK(cluster_frame_decode(bytes, size, &frame));
        CHECK_INT(frame.type, ==, frames[i].type);
        CHECK_INT(frame.size, ==, size);
        CHECK_STR(frame.endpoint.addr, frames[i].endpoint.addr);
        CHECK_INT(frame.endpoint.port, ==, frames[i].endpoint.port);
        CHECK_INT(frame.reason, ==, frames[i].reason);
        CHECK_INT(frame.sealed_size, ==, frames[i].sealed_size);
        if (frames[i].mac != NULL)
            CHECK(memcmp(frame.mac, mac, 32) == 0);
        /* Cut short anywhere: truncated; one byte more: trailing. */
        for (size_t cut = 0; cut < size; cut++)
            CHECK_INT(cluster_frame_decode(bytes, cut, &frame), ==, ARI_EMSG_SHORT);
        CHECK_INT(cluster_frame_decode(bytes, size + 1, &frame), ==, ARI_EMSG_TRAILING);
        CHECK_INT(cluster_frame_encode(&frames[i], bytes, size - 1, &size), ==, ARI_EMSG_SPACE);
    }

    /* Header errors. */
    CHECK_OK(cluster_frame_encode(&hello, bytes, sizeof bytes, &size));
    cluster_frame_type_t type;
    size_t frame_size;
    CHECK_OK(cluster_frame_header(bytes, 8, &type, &frame_size));
    CHECK_INT(frame_size, ==, 44);
    bytes[0] = 'X';
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_VERSION);
    bytes[0] = 'A';
    bytes[2] = 2;
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_VERSION);
    bytes[2] = 1;
    bytes[3] = 9;
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_TYPE);
    bytes[3] = 0;
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_TYPE);
    bytes[3] = CLUSTER_FRAME_HELLO;
    bytes[4] = 37; /* a HELLO is 36 bytes, no more */
    CHECK_INT(cluster_frame_header(bytes, 8, &type, &frame_size), ==, ARI_EMSG_LENGTH);
    bytes[3] = CLUSTER_FRAME_TABLE;
    bytes[4] = 0;
    bytes[5] = 0;
    bytes[6] = 0x40; /* a 4 MiB table: past the bound, refused before any read */
    CHECK_INT(cluster_frame_header(bytes, 8, &type, &frame_size), ==, ARI_EMSG_LENGTH);
    bytes[6] = 0;
    CHECK_INT(cluster_frame_header(bytes, 7, &type, &frame_size), ==, ARI_EMSG_SHORT);

    /* CLAIM fields. */
    cluster_frame_t claim = {.type = CLUSTER_FRAME_CLAIM, .endpoint = {"10.0.0.1", 7000},
                             .mac = mac};
    CHECK_OK(cluster_frame_encode(&claim, bytes, sizeof bytes, &size));
    bytes[10] = 9; /* addr_length past the address */
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_LENGTH);
    bytes[10] = 8;
    bytes[11] = '-';
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_FIELD);
    bytes[11] = '1';
    bytes[8] = bytes[9] = 0; /* port 0 */
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_FIELD);
    claim.endpoint.port = 0;
    CHECK_INT(cluster_frame_encode(&claim, bytes, sizeof bytes, &size), ==, ARI_EINVAL);
    cluster_frame_t refuse = {.type = CLUSTER_FRAME_REFUSE, .reason = CLUSTER_REFUSE_BUSY};
    CHECK_OK(cluster_frame_encode(&refuse, bytes, sizeof bytes, &size));
    bytes[8] = 6;
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_FIELD);
    bytes[8] = 0;
    CHECK_INT(cluster_frame_decode(bytes, size, &frame), ==, ARI_EMSG_FIELD);
}

TEST_FN(join_table_codec)
{
    cluster_table_t table, back;
    CHECK_OK(cluster_table_init(&table, 3));
    table.entries[0] = (cluster_endpoint_t){"10.0.0.1", 17470};
    table.entries[1] = (cluster_endpoint_t){"fe80::1", 1};
    table.entries[2] = (cluster_endpoint_t){"n.example", 65535};
    uint8_t bytes[1024];
    size_t size;
    CHECK_OK(cluster_table_encode(&table, bytes, sizeof bytes, &size));
    CHECK_INT(size, ==, 4 + 3 * 3 + 8 + 7 + 9);
    CHECK_OK(cluster_table_decode(bytes, size, &back));
    CHECK_INT(back.count, ==, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(back.entries[i].addr, table.entries[i].addr);
        CHECK_INT(back.entries[i].port, ==, table.entries[i].port);
    }
    cluster_table_free(&back);
    for (size_t cut = 0; cut < size; cut++)
        CHECK(cluster_table_decode(bytes, cut, &back) < 0);
    CHECK_INT(cluster_table_decode(bytes, size - 1, &back), ==, ARI_EMSG_SHORT);
    bytes[size] = 0;
    CHECK_INT(cluster_table_decode(bytes, size + 1, &back), ==, ARI_EMSG_TRAILING);
    uint8_t count[4] = {0, 0, 0, 0};
    CHECK_INT(cluster_table_decode(count, 4, &back), ==, ARI_EMSG_FIELD);
    uint8_t huge[8] = {0xff, 0xff, 0xff, 0x7f, 1, 0, 1, 'a'};
    CHECK_INT(cluster_table_decode(huge, 8, &back), ==, ARI_EMSG_FIELD);
    uint8_t many[8] = {2, 0, 0, 0, 1, 0, 1, 'a'}; /* two entries promised, bytes for one */
    CHECK_INT(cluster_table_decode(many, 8, &back), ==, ARI_EMSG_SHORT);
    uint8_t empty[8] = {1, 0, 0, 0, 1, 0, 0, 0}; /* an entry without an address */
    CHECK_INT(cluster_table_decode(empty, 8, &back), ==, ARI_EMSG_FIELD);
    /* Entries that have not joined cannot be encoded. */
    table.entries[1].port = 0;
    CHECK_INT(cluster_table_encode(&table, bytes, sizeof bytes, &size), ==, ARI_EINVAL);
    CHECK_INT(cluster_table_encode(&table, bytes, 10, &size), ==, ARI_EMSG_SPACE);
    cluster_table_free(&table);
    CHECK_INT(cluster_table_init(&table, 0), ==, ARI_EINVAL);
    CHECK_INT(cluster_table_init(&table, CLUSTER_NODES_MAX + 1), ==, ARI_EINVAL);
}

/* ------------------------------------------------------------------------
 * Sealed frames
 * ------------------------------------------------------------------------ */

TEST_FN(join_seal_frames)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1);
    uint8_t nonce_node[CLUSTER_NONCE_BYTES] = {1}, nonce_coordinator[CLUSTER_NONCE_BYTES] = {2};
    cluster_session_t node, coordinator, other;
    char error[256];
    CHECK_OK(cluster_session_derive(&key, nonce_node, nonce_coordinator, 3, CLUSTER_SIDE_NODE,
                                    &node, error, sizeof error));
    CHECK_OK(cluster_session_derive(&key, nonce_node, nonce_coordinator, 3,
                                    CLUSTER_SIDE_COORDINATOR, &coordinator, error, sizeof error));
    CHECK(memcmp(node.key, coordinator.key, sizeof node.key) == 0);
    /* Another node id, nonce or key: another session key. */
    CHECK_OK(cluster_session_derive(&key, nonce_node, nonce_coordinator, 4, CLUSTER_SIDE_NODE,
                                    &other, error, sizeof error));
    CHECK(memcmp(node.key, other.key, sizeof node.key) != 0);
    nonce_node[5] = 1;
    CHECK_OK(cluster_session_derive(&key, nonce_node, nonce_coordinator, 3, CLUSTER_SIDE_NODE,
                                    &other, error, sizeof error));
    CHECK(memcmp(node.key, other.key, sizeof node.key) != 0);

    const char *messages[] = {"first", "", "third, a little longer"};
    uint8_t sealed[3][64], plain[64];
    size_t sealed_size[3], size;
    for (int i = 0; i < 3; i++)
        CHECK_OK(cluster_session_seal(&coordinator, (const uint8_t *)messages[i],
                                      strlen(messages[i]), sealed[i], sizeof sealed[i],
                                      &sealed_size[i]));
    CHECK_INT(sealed_size[0], ==, 5 + CLUSTER_SEAL_OVERHEAD);
    CHECK_INT(sealed[2][0], ==, 2); /* the counter */
    /* A flipped bit anywhere (counter, MAC, ciphertext) is refused. */
    for (size_t byte = 0; byte < sealed_size[0]; byte++) {
        for (int bit = 0; bit < 8; bit += 3) {
            sealed[0][byte] ^= (uint8_t)(1 << bit);
            memset(plain, 0x55, sizeof plain);
            CHECK_INT(cluster_session_open(&node, sealed[0], sealed_size[0], plain, sizeof plain,
                                           &size, error, sizeof error),
                      ==, ARI_EPERM);
            CHECK(plain[0] == 0x55);
            sealed[0][byte] ^= (uint8_t)(1 << bit);
        }
    }
    CHECK_STR(error, "frame does not authenticate (altered on the way, or sealed under another "
                     "key)");
    /* Out of order: frame 1 before frame 0. */
    CHECK_INT(cluster_session_open(&node, sealed[1], sealed_size[1], plain, sizeof plain, &size,
                                   error, sizeof error),
              ==, ARI_EPERM);
    CHECK_STR(error, "frame out of order, or one was lost (counter 1, expected 0)");
    for (int i = 0; i < 3; i++) {
        CHECK_OK(cluster_session_open(&node, sealed[i], sealed_size[i], plain, sizeof plain,
                                      &size, error, sizeof error));
        CHECK_INT(size, ==, strlen(messages[i]));
        CHECK(memcmp(plain, messages[i], size) == 0);
    }
    /* Replayed. */
    CHECK_INT(cluster_session_open(&node, sealed[1], sealed_size[1], plain, sizeof plain, &size,
                                   error, sizeof error),
              ==, ARI_EPERM);
    CHECK_STR(error, "replayed frame (counter 1, expected 3)");
    /* A frame sent back to its own side (a reflection) does not open. */
    CHECK_INT(cluster_session_open(&coordinator, sealed[0], sealed_size[0], plain, sizeof plain,
                                   &size, error, sizeof error),
              ==, ARI_EPERM);
    /* Another session's key. */
    CHECK_INT(cluster_session_open(&other, sealed[0], sealed_size[0], plain, sizeof plain, &size,
                                   error, sizeof error),
              ==, ARI_EPERM);
    /* Sizes. */
    CHECK_INT(cluster_session_open(&node, sealed[0], CLUSTER_SEAL_OVERHEAD - 1, plain,
                                   sizeof plain, &size, error, sizeof error),
              ==, ARI_EMSG_SHORT);
    CHECK_INT(cluster_session_open(&node, sealed[2], sealed_size[2], plain, 3, &size, error,
                                   sizeof error),
              ==, ARI_EMSG_SPACE);
    CHECK_INT(cluster_session_seal(&node, plain, 10, sealed[0], 10 + CLUSTER_SEAL_OVERHEAD - 1,
                                   &size),
              ==, ARI_EMSG_SPACE);
    CHECK_INT(cluster_session_seal(&node, plain, CLUSTER_SEAL_PLAIN_MAX + 1, sealed[0],
                                   sizeof sealed[0], &size),
              ==, ARI_EINVAL);
    node.send_next = UINT64_MAX;
    CHECK_INT(cluster_session_seal(&node, plain, 1, sealed[0], sizeof sealed[0], &size), ==,
              ARI_ERANGE);
}

/* ------------------------------------------------------------------------
 * The join over loopback
 * ------------------------------------------------------------------------ */

TEST_FN(join_three_nodes)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *coordinator = join_test_coordinator(&key, 4, 2000, &log);
    char error[CLUSTER_JOIN_ERROR_MAX];
    /* The coordinator is node 0 itself. */
    CHECK_OK(cluster_coordinator_add(coordinator, 0, &(cluster_endpoint_t){"127.0.0.1", 17000},
                                     error, sizeof error));
    CHECK_INT(cluster_coordinator_add(coordinator, 0, &(cluster_endpoint_t){"127.0.0.1", 17000},
                                      error, sizeof error),
              ==, ARI_EINVAL);
    uint16_t port = cluster_coordinator_port(coordinator);
    join_node_run_t nodes[3];
    join_node_start(&nodes[0], &key, port, 1, "127.0.0.1", 17001, 5000);
    join_node_start(&nodes[1], &key, port, 2, "", 17002, 5000); /* "as you see me" */
    join_node_start(&nodes[2], &key, port, 3, "localhost", 17003, 5000);
    CHECK_OK(cluster_coordinator_run(coordinator, 5000, error, sizeof error));
    CHECK_INT(cluster_coordinator_joined(coordinator), ==, 4);
    const cluster_table_t *table = cluster_coordinator_table(coordinator);
    static const cluster_endpoint_t expected[4] = {
        {"127.0.0.1", 17000}, {"127.0.0.1", 17001}, {"127.0.0.1", 17002}, {"localhost", 17003}};
    for (int i = 0; i < 3; i++) {
        join_node_wait(&nodes[i]);
        if (nodes[i].status != ARI_OK)
            test_fail(__FILE__, __LINE__, "node %d: %s", i + 1, nodes[i].error);
        CHECK_INT(nodes[i].table.count, ==, 4);
        for (int n = 0; n < 4; n++) {
            CHECK_STR(nodes[i].table.entries[n].addr, expected[n].addr);
            CHECK_INT(nodes[i].table.entries[n].port, ==, expected[n].port);
            CHECK_STR(table->entries[n].addr, expected[n].addr);
        }
        /* The table took the session's first frame from the coordinator. */
        CHECK_INT(nodes[i].session.receive_next, ==, 1);
        CHECK_INT(nodes[i].session.send_next, ==, 0);
        cluster_table_free(&nodes[i].table);
    }
    CHECK_INT(log.size, ==, 0); /* nothing refused */
    cluster_coordinator_close(coordinator);
    join_log_close(&log);
}

TEST_FN(join_wrong_key_refused)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1), wrong = join_test_key(2);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *coordinator = join_test_coordinator(&key, 2, 2000, &log);
    uint16_t port = cluster_coordinator_port(coordinator);

    /* An honest node with another key: it refuses the coordinator's proof
     * and hangs up; the coordinator logs it. */
    join_node_run_t intruder;
    join_node_start(&intruder, &wrong, port, 0, "10.6.6.6", 666, 3000);
    join_step_until_done(coordinator, &intruder, 3000);
    CHECK_INT(intruder.status, ==, ARI_EPERM);
    join_step_until_logged(coordinator, &log, 1, 2000);
    join_check_logged(&log, "ariadne join: 127.0.0.1:");
    join_check_logged(&log, ": dropped: it closed the connection after our challenge (a node with "
                            "another cluster key refuses our proof)\n");

    /* A peer without the key that answers anyway: its proof does not
     * verify. It is told so and logged. */
    int fd = join_raw_connect(port);
    uint8_t nonce[CLUSTER_NONCE_BYTES] = {7}, mac[CLUSTER_MAC_BYTES] = {9}, frame[512];
    size_t size;
    cluster_frame_t hello = {.type = CLUSTER_FRAME_HELLO, .nonce = nonce, .node_id = 1};
    CHECK_OK(cluster_frame_encode(&hello, frame, sizeof frame, &size));
    join_raw_send(fd, frame, size);
    cluster_frame_t claim = {.type = CLUSTER_FRAME_CLAIM, .endpoint = {"10.6.6.6", 666},
                             .mac = mac};
    CHECK_OK(cluster_frame_encode(&claim, frame, sizeof frame, &size));
    join_raw_send(fd, frame, size);
    join_step_until_logged(coordinator, &log, 2, 2000);
    join_check_logged(&log, ": refused: its proof does not verify (it does not hold the cluster "
                            "key)\n");
    size = join_raw_drain(fd, frame, sizeof frame);
    close(fd);
    /* What it got: a CHALLENGE (nonce and proof: nothing about the run),
     * then a REFUSE. */
    cluster_frame_t got;
    CHECK_INT(size, ==, 8 + 64 + 8 + 1);
    CHECK_OK(cluster_frame_decode(frame, 72, &got));
    CHECK_INT(got.type, ==, CLUSTER_FRAME_CHALLENGE);
    CHECK_OK(cluster_frame_decode(frame + 72, 9, &got));
    CHECK_INT(got.reason, ==, CLUSTER_REFUSE_PROOF);

    /* Nothing changed; the right nodes still join. */
    CHECK_INT(cluster_coordinator_joined(coordinator), ==, 0);
    const cluster_table_t *table = cluster_coordinator_table(coordinator);
    for (uint32_t i = 0; i < table->count; i++)
        CHECK_INT(table->entries[i].port, ==, 0);
    join_node_run_t nodes[2];
    join_node_start(&nodes[0], &key, port, 0, "127.0.0.1", 18000, 5000);
    join_node_start(&nodes[1], &key, port, 1, "127.0.0.1", 18001, 5000);
    char error[CLUSTER_JOIN_ERROR_MAX];
    CHECK_OK(cluster_coordinator_run(coordinator, 5000, error, sizeof error));
    for (int i = 0; i < 2; i++) {
        join_node_wait(&nodes[i]);
        CHECK_OK(nodes[i].status);
        CHECK_INT(nodes[i].table.entries[1].port, ==, 18001);
        cluster_table_free(&nodes[i].table);
    }
    CHECK_INT(join_log_lines(&log), ==, 2);
    cluster_coordinator_close(coordinator);
    join_log_close(&log);
}

TEST_FN(join_fake_coordinator)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1), other = join_test_key(3);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *fake = join_test_coordinator(&other, 1, 2000, &log);
    uint16_t port = cluster_coordinator_port(fake);
    join_node_run_t node;
    join_node_start(&node, &key, port, 0, "127.0.0.1", 19000, 3000);
    join_step_until_done(fake, &node, 3000);
    CHECK_INT(node.status, ==, ARI_EPERM);
    char expected[CLUSTER_JOIN_ERROR_MAX];
    snprintf(expected, sizeof expected, "join: coordinator 127.0.0.1:%u: did not prove it holds "
             "the cluster key (it has another key, or is not our coordinator); we sent it nothing "
             "more", port);
    CHECK_STR(node.error, expected);
    CHECK_INT(cluster_coordinator_joined(fake), ==, 0);
    join_step_until_logged(fake, &log, 1, 2000);
    cluster_coordinator_close(fake);
    join_log_close(&log);
}

/* Sends `bytes` to a fresh connection and checks what the coordinator logs
 * and that it closes the connection (after a REFUSE when one is due). */
static void join_expect_refused(cluster_coordinator_t *coordinator, join_log_t *log,
                                const void *bytes, size_t size, bool close_after,
                                const char *logged, int refuse_reason)
{
    size_t lines = join_log_lines(log);
    int fd = join_raw_connect(cluster_coordinator_port(coordinator));
    if (size > 0)
        join_raw_send(fd, bytes, size);
    if (close_after)
        shutdown(fd, SHUT_WR);
    join_step_until_logged(coordinator, log, lines + 1, 3000);
    join_check_logged(log, logged);
    uint8_t answer[256];
    size_t got = join_raw_drain(fd, answer, sizeof answer);
    close(fd);
    if (refuse_reason == 0) {
        CHECK_INT(got, ==, 0);
        return;
    }
    cluster_frame_t frame;
    CHECK_INT(got, ==, 9);
    CHECK_OK(cluster_frame_decode(answer, got, &frame));
    CHECK_INT(frame.reason, ==, refuse_reason);
}

TEST_FN(join_malformed_frames)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *coordinator = join_test_coordinator(&key, 2, 2000, &log);
    uint8_t frame[512];
    size_t size;
    uint8_t nonce[CLUSTER_NONCE_BYTES] = {1};
    cluster_frame_t hello = {.type = CLUSTER_FRAME_HELLO, .nonce = nonce, .node_id = 0};
    CHECK_OK(cluster_frame_encode(&hello, frame, sizeof frame, &size));

    join_expect_refused(coordinator, &log, "GET / HTTP/1.1\r\n\r\n", 18, false,
                        ": refused: not a join frame of this version (it does not start 'A' "
                        "'J' 1)\n",
                        CLUSTER_REFUSE_MALFORMED);
    uint8_t oversized[8] = {'A', 'J', 1, CLUSTER_FRAME_HELLO, 0, 0, 0, 0x40};
    join_expect_refused(coordinator, &log, oversized, 8, false,
                        ": refused: a frame whose length is out of bounds for its type\n",
                        CLUSTER_REFUSE_MALFORMED);
    uint8_t version[8] = {'A', 'J', 7, CLUSTER_FRAME_HELLO, 36, 0, 0, 0};
    join_expect_refused(coordinator, &log, version, 8, false,
                        ": refused: not a join frame of this version (it does not start 'A' "
                        "'J' 1)\n",
                        CLUSTER_REFUSE_MALFORMED);
    join_expect_refused(coordinator, &log, frame, 20, true,
                        ": dropped: it closed the connection before its HELLO\n", 0);
    cluster_frame_t refuse = {.type = CLUSTER_FRAME_REFUSE, .reason = CLUSTER_REFUSE_BUSY};
    CHECK_OK(cluster_frame_encode(&refuse, frame + 100, 100, &size));
    join_expect_refused(coordinator, &log, frame + 100, size, false,
                        ": refused: a frame of type 5 where its HELLO belongs\n",
                        CLUSTER_REFUSE_MALFORMED);
    CHECK_INT(cluster_coordinator_joined(coordinator), ==, 0);

    /* A node with the key, but an id out of range, then a taken one. */
    join_node_run_t node;
    uint16_t port = cluster_coordinator_port(coordinator);
    join_node_start(&node, &key, port, 2, "127.0.0.1", 20000, 3000);
    join_step_until_done(coordinator, &node, 3000);
    CHECK_INT(node.status, ==, ARI_EPERM);
    char expected[CLUSTER_JOIN_ERROR_MAX];
    snprintf(expected, sizeof expected, "join: coordinator 127.0.0.1:%u: refused node 2: our "
             "node id is not below the run's size", port);
    CHECK_STR(node.error, expected);
    join_check_logged(&log, ": refused: node id 2 is not below the run's 2 nodes\n");
    char error[CLUSTER_JOIN_ERROR_MAX];
    CHECK_OK(cluster_coordinator_add(coordinator, 1, &(cluster_endpoint_t){"127.0.0.1", 20001},
                                     error, sizeof error));
    join_node_start(&node, &key, port, 1, "127.0.0.1", 20002, 3000);
    join_step_until_done(coordinator, &node, 3000);
    CHECK_INT(node.status, ==, ARI_EPERM);
    join_check_logged(&log, ": refused: node 1 has joined already (from this coordinator)\n");
    CHECK_INT(cluster_coordinator_joined(coordinator), ==, 1);
    CHECK_INT(cluster_coordinator_table(coordinator)->entries[1].port, ==, 20001);
    cluster_coordinator_close(coordinator);
    join_log_close(&log);
}

/* A fake coordinator that accepts one connection, reads the HELLO and
 * answers with `reply`, then holds the connection until told to stop. */
typedef struct {
    int listen_fd;
    const uint8_t *reply;
    size_t reply_size;
    pthread_t thread;
} join_fake_t;

static void *join_fake_main(void *argument)
{
    join_fake_t *fake = argument;
    struct pollfd entry = {fake->listen_fd, POLLIN, 0};
    if (poll(&entry, 1, 3000) != 1)
        return NULL;
    int fd = accept(fake->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    uint8_t hello[44];
    size_t have = 0;
    while (have < sizeof hello) {
        ssize_t got = recv(fd, hello + have, sizeof hello - have, 0);
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    if (fake->reply_size > 0)
        send(fd, fake->reply, fake->reply_size, MSG_NOSIGNAL);
    /* Hold the connection until the node hangs up. */
    entry = (struct pollfd){fd, POLLIN, 0};
    poll(&entry, 1, 3000);
    close(fd);
    return NULL;
}

static int join_against_fake(const uint8_t *reply, size_t reply_size, int timeout_ms,
                             char *error, size_t error_size, uint16_t *port_out)
{
    join_fake_t fake = {.reply = reply, .reply_size = reply_size};
    uint16_t port;
    CHECK_OK(cluster_net_listen("127.0.0.1", 0, &fake.listen_fd, &port, error, error_size));
    CHECK_INT(pthread_create(&fake.thread, NULL, join_fake_main, &fake), ==, 0);
    cluster_key_t key = join_test_key(1);
    cluster_join_config_t config = {.key = &key, .coordinator_addr = "127.0.0.1",
                                    .coordinator_port = port, .node_id = 0,
                                    .self = {"127.0.0.1", 21000}, .timeout_ms = timeout_ms};
    cluster_table_t table;
    cluster_session_t session;
    int status = cluster_node_join(&config, &table, &session, error, error_size);
    CHECK_INT(pthread_join(fake.thread, NULL), ==, 0);
    close(fake.listen_fd);
    *port_out = port;
    return status;
}

TEST_FN(join_node_refuses_bad_frames)
{
    if (!join_test_sodium())
        return;
    char error[CLUSTER_JOIN_ERROR_MAX], expected[CLUSTER_JOIN_ERROR_MAX];
    uint16_t port;
    /* Garbage where the challenge belongs. */
    static const uint8_t garbage[16] = "SSH-2.0-OpenSSH";
    CHECK_INT(join_against_fake(garbage, sizeof garbage, 2000, error, sizeof error, &port), ==,
              ARI_EMSG_VERSION);
    snprintf(expected, sizeof expected, "join: coordinator 127.0.0.1:%u: not a join frame of "
             "this version (it does not start 'A' 'J' 1) while waiting for its challenge", port);
    CHECK_STR(error, expected);
    /* A header announcing more than a challenge can hold. */
    static const uint8_t oversized[8] = {'A', 'J', 1, CLUSTER_FRAME_CHALLENGE, 0, 0, 0x10, 0};
    CHECK_INT(join_against_fake(oversized, sizeof oversized, 2000, error, sizeof error, &port),
              ==, ARI_EMSG_LENGTH);
    /* A truncated challenge, then the connection held open: the node's
     * deadline ends it. */
    static const uint8_t truncated[20] = {'A', 'J', 1, CLUSTER_FRAME_CHALLENGE, 64, 0, 0, 0};
    int64_t start = cluster_net_now_ms();
    CHECK_INT(join_against_fake(truncated, sizeof truncated, 300, error, sizeof error, &port), ==,
              ARI_ETIMEDOUT);
    CHECK_INT(cluster_net_now_ms() - start, <, 2000);
    snprintf(expected, sizeof expected, "join: coordinator 127.0.0.1:%u: timed out while waiting "
             "for its challenge", port);
    CHECK_STR(error, expected);
    /* A TABLE where the challenge belongs. */
    uint8_t table[8 + 40] = {'A', 'J', 1, CLUSTER_FRAME_TABLE, 40, 0, 0, 0};
    CHECK_INT(join_against_fake(table, sizeof table, 2000, error, sizeof error, &port), ==,
              ARI_EMSG_TYPE);
    snprintf(expected, sizeof expected, "join: coordinator 127.0.0.1:%u: sent a frame of type 4 "
             "instead of its challenge", port);
    CHECK_STR(error, expected);
    /* A silent coordinator. */
    start = cluster_net_now_ms();
    CHECK_INT(join_against_fake(NULL, 0, 300, error, sizeof error, &port), ==, ARI_ETIMEDOUT);
    CHECK_INT(cluster_net_now_ms() - start, >=, 300);
    CHECK_INT(cluster_net_now_ms() - start, <, 2000);
    /* Nobody listening at all. */
    cluster_key_t key = join_test_key(1);
    cluster_join_config_t config = {.key = &key, .coordinator_addr = "127.0.0.1",
                                    .coordinator_port = port, .self = {"", 21000},
                                    .timeout_ms = 200};
    cluster_table_t tables;
    cluster_session_t session;
    CHECK_INT(cluster_node_join(&config, &tables, &session, error, sizeof error), ==,
              ARI_ETIMEDOUT);
    snprintf(expected, sizeof expected, "cannot connect to 127.0.0.1:%u: timed out (is the "
             "coordinator running?)", port);
    CHECK_STR(error, expected);
    config.self.port = 0;
    CHECK_INT(cluster_node_join(&config, &tables, &session, error, sizeof error), ==, ARI_EINVAL);
}

TEST_FN(join_silent_peer_times_out)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *coordinator = join_test_coordinator(&key, 1, 300, &log);
    int64_t start = cluster_net_now_ms();
    int fd = join_raw_connect(cluster_coordinator_port(coordinator));
    join_step_until_logged(coordinator, &log, 1, 3000);
    int64_t elapsed = cluster_net_now_ms() - start;
    CHECK_INT(elapsed, >=, 300);
    CHECK_INT(elapsed, <, 1000);
    join_check_logged(&log, ": dropped: it said nothing within 300 ms\n");
    uint8_t answer[16];
    CHECK_INT(join_raw_drain(fd, answer, sizeof answer), ==, 0); /* closed, nothing said */
    close(fd);

    /* One that stops after its HELLO. */
    fd = join_raw_connect(cluster_coordinator_port(coordinator));
    uint8_t nonce[CLUSTER_NONCE_BYTES] = {1}, frame[64];
    size_t size;
    cluster_frame_t hello = {.type = CLUSTER_FRAME_HELLO, .nonce = nonce, .node_id = 0};
    CHECK_OK(cluster_frame_encode(&hello, frame, sizeof frame, &size));
    join_raw_send(fd, frame, size);
    join_step_until_logged(coordinator, &log, 2, 3000);
    join_check_logged(&log, ": dropped: it did not answer our challenge within 300 ms\n");
    close(fd);
    CHECK_INT(cluster_coordinator_joined(coordinator), ==, 0);

    /* The whole run's bound. */
    char error[CLUSTER_JOIN_ERROR_MAX];
    CHECK_INT(cluster_coordinator_run(coordinator, 200, error, sizeof error), ==, ARI_ETIMEDOUT);
    CHECK_STR(error, "join: only 0 of 1 nodes joined within 200 ms (missing: 0)");
    cluster_coordinator_close(coordinator);
    join_log_close(&log);
}

/* Out of file descriptors: the listener stays readable but accept fails;
 * the coordinator rests instead of spinning, says why once, and accepts
 * again when descriptors are back. */
TEST_FN(join_out_of_descriptors)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *coordinator = join_test_coordinator(&key, 1, 300, &log);
    int fd = join_raw_connect(cluster_coordinator_port(coordinator));
    struct rlimit before, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &before) == 0);
    int next = dup(0); /* the lowest free descriptor: the limit makes it the last */
    CHECK(next >= 0);
    close(next);
    low = before;
    low.rlim_cur = (rlim_t)next;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int64_t end = cluster_net_now_ms() + 300;
    uint32_t steps = 0;
    while (cluster_net_now_ms() < end) {
        CHECK_OK(cluster_coordinator_step(coordinator, 300));
        steps++;
    }
    CHECK(setrlimit(RLIMIT_NOFILE, &before) == 0);
    /* Resting 100 ms at a time: a handful of steps (a spin made thousands). */
    CHECK_INT(steps, <=, 20);
    join_check_logged(&log, "listener: out of file descriptors (Too many open files): "
                            "accepting again in 100 ms");
    CHECK_INT(join_log_lines(&log), ==, 1);
    /* Descriptors back: the waiting connection is taken, and dropped for silence. */
    join_step_until_logged(coordinator, &log, 2, 3000);
    join_check_logged(&log, ": dropped: it said nothing within 300 ms\n");
    close(fd);
    cluster_coordinator_close(coordinator);
    join_log_close(&log);
}

/* A resolver that never answers "hang.example" (a DNS server that does
 * not reply), answers "slow.example" after 1 s, and numbers at once. */
static int join_slow_getaddrinfo(const char *node, const char *service,
                                 const struct addrinfo *hints, struct addrinfo **res)
{
    while (node != NULL && strcmp(node, "hang.example") == 0)
        pause();
    if (node != NULL && strcmp(node, "slow.example") == 0)
        sleep(1);
    return getaddrinfo("127.0.0.1", service, hints, res);
}

/* Name lookups end at the caller's deadline, whatever the resolver does
 * (a lookup that waited for it would hang the test until its time limit);
 * numeric addresses never wait for it. */
TEST_FN(join_lookup_bounded)
{
    cluster_net_getaddrinfo = join_slow_getaddrinfo; /* a forked test: only here */
    int fd = -1;
    char error[256];
    CHECK_INT(cluster_net_connect("hang.example", 9, cluster_net_now_ms() + 200, &fd, error,
                                  sizeof error),
              ==, ARI_ETIMEDOUT);
    CHECK_STR(error, "cannot resolve hang.example: the name lookup took too long");
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found = NULL;
    CHECK_INT(cluster_net_lookup("127.0.0.1", "9", &hints, cluster_net_now_ms(), &found), ==, 0);
    CHECK(found != NULL); /* numeric: no thread, no deadline to miss */
    freeaddrinfo(found);
    /* A lookup that finishes within its deadline gives its answer. */
    CHECK_INT(cluster_net_lookup("slow.example", "9", &hints, cluster_net_now_ms() + 5000,
                                 &found),
              ==, 0);
    CHECK(found != NULL && found->ai_family == AF_INET);
    freeaddrinfo(found);
    /* cluster_net_getaddrinfo stays replaced: the abandoned lookup's thread
     * still uses it, and this forked test ends here. */
}

TEST_FN(join_node_leaves_before_table)
{
    if (!join_test_sodium())
        return;
    cluster_key_t key = join_test_key(1);
    join_log_t log;
    join_log_open(&log);
    cluster_coordinator_t *coordinator = join_test_coordinator(&key, 2, 2000, &log);
    uint16_t port = cluster_coordinator_port(coordinator);
    /* Node 1 joins, then gives up waiting for node 0: its id is free again. */
    join_node_run_t node;
    join_node_start(&node, &key, port, 1, "127.0.0.1", 22001, 400);
    join_step_until_done(coordinator, &node, 3000);
    CHECK_INT(node.status, ==, ARI_ETIMEDOUT);
    join_step_until_logged(coordinator, &log, 1, 2000);
    join_check_logged(&log, ": node 1 left before its table; id 1 is free again\n");
    CHECK_INT(cluster_coordinator_joined(coordinator), ==, 0);
    CHECK_INT(cluster_coordinator_table(coordinator)->entries[1].port, ==, 0);
    /* It comes back, with node 0. */
    join_node_run_t nodes[2];
    join_node_start(&nodes[0], &key, port, 0, "127.0.0.1", 22000, 3000);
    join_node_start(&nodes[1], &key, port, 1, "127.0.0.1", 22001, 3000);
    char error[CLUSTER_JOIN_ERROR_MAX];
    CHECK_OK(cluster_coordinator_run(coordinator, 3000, error, sizeof error));
    for (int i = 0; i < 2; i++) {
        join_node_wait(&nodes[i]);
        CHECK_OK(nodes[i].status);
        cluster_table_free(&nodes[i].table);
    }
    cluster_coordinator_close(coordinator);
    join_log_close(&log);
}

TEST_FN(join_keygen_tool)
{
    char path[64], *argv[] = {"keygen", path, NULL}, *none[] = {"keygen", NULL};
    snprintf(path, sizeof path, "/tmp/ari-keygen-%d", (int)getpid());
    unlink(path);
    CHECK_INT(tool_keygen_main(1, none), ==, 2);
    if (!cluster_crypto_available()) {
        CHECK_INT(tool_keygen_main(2, argv), ==, 1); /* says how to get libsodium */
        CHECK_INT(access(path, F_OK), ==, -1);
        return;
    }
    CHECK_INT(tool_keygen_main(2, argv), ==, 0);
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
    CHECK_INT(st.st_size, ==, 65);
    cluster_key_t key;
    char error[256];
    CHECK_OK(cluster_key_load(path, &key, error, sizeof error));
    CHECK_INT(tool_keygen_main(2, argv), ==, 1); /* never overwrites */
    cluster_key_t again;
    CHECK_OK(cluster_key_load(path, &again, error, sizeof error));
    CHECK(memcmp(&key, &again, sizeof key) == 0);
    unlink(path);
}
