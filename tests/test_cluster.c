/*
 * test_cluster — the hosts file (parsing, every error with its file:line
 * message, launch templates and their quoting, placing nodes), addresses,
 * and the rank variables of srun and mpirun.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ariadne.h"
#include "cluster/addr.h"
#include "cluster/hosts.h"
#include "cluster/rank.h"
#include "test.h"

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

TEST_FN(cluster_addr_forms)
{
    static const struct {
        const char *text;
        const char *addr;
        unsigned port;
        cluster_addr_kind_t kind;
    } good[] = {
        {"10.0.0.1", "10.0.0.1", 99, CLUSTER_ADDR_IPV4},
        {"10.0.0.1:7000", "10.0.0.1", 7000, CLUSTER_ADDR_IPV4},
        {"[fe80::1]:65535", "fe80::1", 65535, CLUSTER_ADDR_IPV6},
        {"[::1]", "::1", 99, CLUSTER_ADDR_IPV6},
        {"0:0::1", "::1", 99, CLUSTER_ADDR_IPV6}, /* canonical form */
        {"::ffff:10.0.0.1", "::ffff:10.0.0.1", 99, CLUSTER_ADDR_IPV6},
        {"node-3.example", "node-3.example", 99, CLUSTER_ADDR_NAME},
        {"my_host:22", "my_host", 22, CLUSTER_ADDR_NAME},
        {"localhost", "localhost", 99, CLUSTER_ADDR_NAME},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cluster_endpoint_t endpoint;
        cluster_addr_kind_t kind;
        char why[160];
        CHECK_OK(cluster_addr_parse(good[i].text, strlen(good[i].text), 99, &endpoint, &kind, why,
                                    sizeof why));
        CHECK_STR(endpoint.addr, good[i].addr);
        CHECK_INT(endpoint.port, ==, good[i].port);
        CHECK_INT(kind, ==, good[i].kind);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"10.0.0", "address '10.0.0' is not an IPv4 address, an IPv6 address or a host name"},
        {"10.0.0.256", "address '10.0.0.256' is not an IPv4 address, an IPv6 address or a host "
                       "name"},
        {"-x.example", "address '-x.example' is not an IPv4 address, an IPv6 address or a host "
                       "name"},
        {"a..b", "address 'a..b' is not an IPv4 address, an IPv6 address or a host name"},
        {"", "address '' is not an IPv4 address, an IPv6 address or a host name"},
        {"a:", "port must be a number from 1 to 65535, not ''"},
        {"a:65536", "port must be a number from 1 to 65535, not '65536'"},
        {"a:0", "port must be a number from 1 to 65535, not '0'"},
        {"a:+1", "port must be a number from 1 to 65535, not '+1'"},
        {"[::1", "IPv6 address '[::1' lacks its closing ']'"},
        {"[::1]x", "address '[::1]x' has text after ']' (expected ':PORT' or nothing)"},
        {"[1.2.3.4]", "address '[1.2.3.4]' holds no valid IPv6 address between its brackets"},
        {"fe80::1%eth0", "address 'fe80::1%eth0' is not an IPv4 address, an IPv6 address or a "
                         "host name"},
        {"a b", "address 'a b' is not an IPv4 address, an IPv6 address or a host name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cluster_endpoint_t endpoint;
        cluster_addr_kind_t kind;
        char why[160] = "";
        CHECK_INT(cluster_addr_parse(bad[i].text, strlen(bad[i].text), 99, &endpoint, &kind, why,
                                     sizeof why),
                  ==, ARI_EINVAL);
        CHECK_STR(why, bad[i].why);
    }
    /* Labels of 63 bytes are names; of 64 they are not. */
    char label[80];
    memset(label, 'a', 64);
    CHECK_INT(cluster_addr_kind(label, 63), ==, CLUSTER_ADDR_NAME);
    CHECK_INT(cluster_addr_kind(label, 64), ==, 0);
    CHECK_INT(cluster_addr_kind("a\0b", 3), ==, 0);
    CHECK_INT(cluster_addr_kind("::1\0x", 5), ==, 0);
}

/* ------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------ */

static const char cluster_example[] =
    "# the test cluster\n"
    "default launch = ssh -p 2222 {addr} {cmdline}   # every host but two\n"
    "default port = 9000\n"
    "\n"
    "alpha   10.0.0.1          2\n"
    "beta    [fe80::1]:7000    1   launch = ip netns exec {host} {cmd}\n"
    "gamma\tgamma.example:8000\t3\t\r\n"
    "  delta ::1 1 launch=env P={port} {{x} {cmd}\n"
    "epsilon 10.0.0.1:9002 1 # shares alpha's address, not its ports";

TEST_FN(cluster_hosts_good)
{
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX];
    CHECK_OK(cluster_hosts_parse(cluster_example, strlen(cluster_example), "hosts.txt", &hosts,
                                 error, sizeof error));
    CHECK_INT(hosts.count, ==, 5);
    CHECK_INT(hosts.slots_total, ==, 8);
    static const struct {
        const char *name, *addr;
        unsigned port, slots, line;
        cluster_addr_kind_t kind;
        const char *launch;
    } expected[] = {
        {"alpha", "10.0.0.1", 9000, 2, 5, CLUSTER_ADDR_IPV4, "ssh -p 2222 {addr} {cmdline}"},
        {"beta", "fe80::1", 7000, 1, 6, CLUSTER_ADDR_IPV6, "ip netns exec {host} {cmd}"},
        {"gamma", "gamma.example", 8000, 3, 7, CLUSTER_ADDR_NAME, "ssh -p 2222 {addr} {cmdline}"},
        {"delta", "::1", 9000, 1, 8, CLUSTER_ADDR_IPV6, "env P={port} {{x} {cmd}"},
        {"epsilon", "10.0.0.1", 9002, 1, 9, CLUSTER_ADDR_IPV4, "ssh -p 2222 {addr} {cmdline}"},
    };
    for (uint32_t i = 0; i < hosts.count; i++) {
        const cluster_host_t *host = &hosts.hosts[i];
        CHECK_STR(host->name, expected[i].name);
        CHECK_STR(host->endpoint.addr, expected[i].addr);
        CHECK_INT(host->endpoint.port, ==, expected[i].port);
        CHECK_INT(host->slots, ==, expected[i].slots);
        CHECK_INT(host->line, ==, expected[i].line);
        CHECK_INT(host->addr_kind, ==, expected[i].kind);
        CHECK_STR(cluster_hosts_launch(&hosts, i), expected[i].launch);
    }
    cluster_hosts_free(&hosts);
    CHECK_INT(hosts.count, ==, 0);

    /* No defaults: ssh and the default port. */
    const char *plain = "solo 192.168.1.5 4\n";
    CHECK_OK(cluster_hosts_parse(plain, strlen(plain), "p", &hosts, error, sizeof error));
    CHECK_STR(cluster_hosts_launch(&hosts, 0), CLUSTER_LAUNCH_DEFAULT);
    CHECK_INT(hosts.hosts[0].endpoint.port, ==, CLUSTER_PORT_DEFAULT);
    cluster_hosts_free(&hosts);
}

/* Parses `length` bytes and expects ARI_EINVAL with exactly `message`. */
static void cluster_expect_error(const char *text, size_t length, const char *message, int line)
{
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX] = "";
    int status = cluster_hosts_parse(text, length, "h.txt", &hosts, error, sizeof error);
    if (status != ARI_EINVAL || strcmp(error, message) != 0)
        test_fail(__FILE__, line, "status %d, error\n  '%s', expected\n  '%s'", status, error,
                  message);
}

TEST_FN(cluster_hosts_errors)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"a 10.0.0.1 x\n", "h.txt:1: slots must be a number from 1 to 4096, not 'x'"},
        {"a 10.0.0.1 0\n", "h.txt:1: slots must be a number from 1 to 4096, not '0'"},
        {"a 10.0.0.1 4097\n", "h.txt:1: slots must be a number from 1 to 4096, not '4097'"},
        {"a 10.0.0.1 -1\n", "h.txt:1: slots must be a number from 1 to 4096, not '-1'"},
        {"# c\na 10.0.0.1\n",
         "h.txt:2: host 'a' needs its slots after the address (NAME ADDRESS SLOTS)"},
        {"a\n", "h.txt:1: host 'a' needs an address and its slots (NAME ADDRESS SLOTS)"},
        {"-a 10.0.0.1 1\n", "h.txt:1: host name '-a' may hold only letters, digits, '.', '-' and "
                            "'_' (at most 63 bytes, starting with a letter or digit)"},
        {"a#b 10.0.0.1 1\n", "h.txt:1: host name 'a#b' may hold only letters, digits, '.', '-' "
                             "and '_' (at most 63 bytes, starting with a letter or digit)"},
        {"a 10.0.0.1 1\na 10.0.0.2 1\n", "h.txt:2: host 'a' is already defined on line 1"},
        {"a 10.0.0.1:7000 2\nb 10.0.0.1:7001 1\n",
         "h.txt:2: host 'b' takes ports 7001 to 7001 of 10.0.0.1, which host 'a' (line 1) takes "
         "too"},
        {"a ::1 2\nb 0::1 1\n", "h.txt:2: host 'b' takes ports 17470 to 17470 of ::1, which host "
                                "'a' (line 1) takes too"},
        {"a 10.0.0.300 1\n", "h.txt:1: address '10.0.0.300' is not an IPv4 address, an IPv6 "
                             "address or a host name"},
        {"a 10.0.0.1:0 1\n", "h.txt:1: port must be a number from 1 to 65535, not '0'"},
        {"a [::1 1\n", "h.txt:1: IPv6 address '[::1' lacks its closing ']'"},
        {"a 10.0.0.1:65535 2\n",
         "h.txt:1: host 'a' needs ports 65535 to 65536 (one a slot), past 65535"},
        {"a 10.0.0.1 1 foo\n", "h.txt:1: expected 'launch = TEMPLATE' after the slots, not 'foo'"},
        {"a 10.0.0.1 1 launch\n", "h.txt:1: 'launch' needs '= TEMPLATE'"},
        {"a 10.0.0.1 1 launch =\n", "h.txt:1: empty launch template (it needs {cmd} or {cmdline})"},
        {"a 10.0.0.1 1 launch = ssh {addr}\n",
         "h.txt:1: launch template must name the command once, as {cmd} or {cmdline}; it names "
         "it 0 times"},
        {"a 10.0.0.1 1 launch = x {cmd} {cmdline}\n",
         "h.txt:1: launch template must name the command once, as {cmd} or {cmdline}; it names "
         "it 2 times"},
        {"a 10.0.0.1 1 launch = ssh {adr} {cmd}\n",
         "h.txt:1: launch template: unknown placeholder '{adr}' at column 27 (known: {host} "
         "{addr} {port} {cmd} {cmdline})"},
        {"a 10.0.0.1 1 launch = ssh {cmd\n",
         "h.txt:1: launch template: '{' at column 27 is not closed by '}' (write '{{' for a "
         "literal '{')"},
        {"default foo = 1\n", "h.txt:1: unknown default 'foo' (expected 'default launch = "
                              "TEMPLATE' or 'default port = N')"},
        {"a 10.0.0.1 1\ndefault port = 5\n",
         "h.txt:2: 'default port' must come before the first host (line 1)"},
        {"default port = 5\ndefault port = 6\n",
         "h.txt:2: second 'default port' (the first is on line 1)"},
        {"default port = x\n", "h.txt:1: default port must be a number from 1 to 65535, not 'x'"},
        {"default launch ssh {cmd}\n", "h.txt:1: 'default launch' needs '= TEMPLATE'"},
        {"default launch = ssh\n", "h.txt:1: launch template must name the command once, as "
                                   "{cmd} or {cmdline}; it names it 0 times"},
        {"# only a comment\n\n", "h.txt:2: no hosts (expected lines 'NAME ADDRESS SLOTS')"},
        {"", "h.txt:1: no hosts (expected lines 'NAME ADDRESS SLOTS')"},
        {"a 10.0.0.1 1\nb 10.0.0.2\001 1\n", "h.txt:2: control character 0x01 at column 11"},
        {"a 10.0.0.1 1\r\r\n", "h.txt:1: control character 0x0d at column 13"},
        {"a 10.0.0.1 4096\nb 10.0.0.2 1\n",
         "h.txt:2: more than 4096 node slots in all (4096 before this line, 1 here)"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1 1\n",
         "h.txt:1: host name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' may hold only letters, "
         "digits, '.', '-' and '_' (at most 63 bytes, starting with a letter or digit)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cluster_expect_error(cases[i].text, strlen(cases[i].text), cases[i].message, __LINE__);
    /* A NUL byte inside the text. */
    cluster_expect_error("a 10.0.0.1 1\0\n", 14, "h.txt:1: control character 0x00 at column 13",
                         __LINE__);
}

TEST_FN(cluster_hosts_limits)
{
    /* The longest line passes, one byte more does not. */
    size_t size = 2 * CLUSTER_LINE_MAX + 64;
    char *text = malloc((size_t)CLUSTER_HOSTS_MAX * 32 + 64);
    CHECK(text != NULL);
    memset(text, ' ', size);
    memcpy(text, "a 10.0.0.1 1", 12);
    CHECK_OK(cluster_hosts_parse(text, CLUSTER_LINE_MAX, "h.txt", &(cluster_hosts_t){0}, NULL, 0));
    cluster_expect_error(text, CLUSTER_LINE_MAX + 1, "h.txt:1: line is longer than 1024 bytes",
                         __LINE__);
    /* As many hosts as allowed, then one more. */
    size_t used = 0;
    for (uint32_t i = 0; i <= CLUSTER_HOSTS_MAX; i++)
        used += (size_t)sprintf(text + used, "h%u 10.%u.%u.1 1\n", i, i / 256, i % 256);
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX];
    size_t all_but_last = (size_t)(strrchr(text, 'h') - text);
    CHECK_OK(cluster_hosts_parse(text, all_but_last, "h.txt", &hosts, error, sizeof error));
    CHECK_INT(hosts.count, ==, CLUSTER_HOSTS_MAX);
    CHECK_INT(hosts.slots_total, ==, CLUSTER_NODES_MAX);
    cluster_hosts_free(&hosts);
    cluster_expect_error(text, used, "h.txt:4097: more than 4096 hosts", __LINE__);
    free(text);
}

TEST_FN(cluster_hosts_load)
{
    char path[] = "/tmp/ari-hosts-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "one 127.0.0.1 2\ntwo 127.0.0.2 x\n";
    CHECK_INT(write(fd, text, strlen(text)), ==, (long long)strlen(text));
    close(fd);
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX], expected[CLUSTER_HOSTS_ERROR_MAX];
    CHECK_INT(cluster_hosts_load(path, &hosts, error, sizeof error), ==, ARI_EINVAL);
    snprintf(expected, sizeof expected, "%s:2: slots must be a number from 1 to 4096, not 'x'",
             path);
    CHECK_STR(error, expected);
    /* Too large to be a hosts file. */
    FILE *file = fopen(path, "wb");
    CHECK(file != NULL);
    for (size_t i = 0; i <= CLUSTER_HOSTS_FILE_MAX / 16; i++)
        fputs("# padding......\n", file);
    fclose(file);
    CHECK_INT(cluster_hosts_load(path, &hosts, error, sizeof error), ==, ARI_EINVAL);
    snprintf(expected, sizeof expected, "%s: larger than 1048576 bytes (is it a hosts file?)",
             path);
    CHECK_STR(error, expected);
    unlink(path);
    CHECK_INT(cluster_hosts_load(path, &hosts, error, sizeof error), ==, ARI_EIO);
    snprintf(expected, sizeof expected, "cannot open %s: No such file or directory", path);
    CHECK_STR(error, expected);
}

/* ------------------------------------------------------------------------
 * Launch templates
 * ------------------------------------------------------------------------ */

/* Runs a command line with /bin/sh and returns what it printed. */
static void cluster_shell_output(const char *command, char *out, size_t size)
{
    FILE *pipe = popen(command, "r");
    CHECK(pipe != NULL);
    size_t got = fread(out, 1, size - 1, pipe);
    out[got] = '\0';
    CHECK_INT(pclose(pipe), ==, 0);
}

TEST_FN(cluster_launch_expand)
{
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX], line[4096];
    CHECK_OK(cluster_hosts_parse(cluster_example, strlen(cluster_example), "hosts.txt", &hosts,
                                 error, sizeof error));
    char *simple[] = {"/opt/prog", "--size", "512", "a b", "it's", "x=1", "", NULL};
    CHECK_OK(cluster_hosts_expand(&hosts, 1, simple, line, sizeof line, error, sizeof error));
    CHECK_STR(line, "ip netns exec beta /opt/prog --size 512 'a b' 'it'\\''s' 'x=1' ''");
    CHECK_OK(cluster_hosts_expand(&hosts, 3, simple, line, sizeof line, error, sizeof error));
    CHECK_STR(line, "env P=9000 {x} /opt/prog --size 512 'a b' 'it'\\''s' 'x=1' ''");
    char *one[] = {"prog", NULL};
    CHECK_OK(cluster_hosts_expand(&hosts, 0, one, line, sizeof line, error, sizeof error));
    CHECK_STR(line, "ssh -p 2222 10.0.0.1 prog");
    char *two[] = {"prog", "a b", NULL};
    CHECK_OK(cluster_hosts_expand(&hosts, 2, two, line, sizeof line, error, sizeof error));
    CHECK_STR(line, "ssh -p 2222 gamma.example 'prog '\\''a b'\\'''");

    /* The shell gets back exactly the words it was given: once through
     * {cmd}, and twice through {cmdline} (as a remote shell behind ssh). */
    const char *text = "once 127.0.0.1 1 launch = printf %s/ {cmd}\n"
                       "twice 127.0.0.2 1 launch = sh -c {cmdline}\n";
    cluster_hosts_t shell;
    CHECK_OK(cluster_hosts_parse(text, strlen(text), "s", &shell, error, sizeof error));
    char *words[] = {"a b", "it's", "$HOME", "`id`", "*", "", "x\ny", "\\", "\"'\"", "--", NULL};
    const char *expected = "a b/it's/$HOME/`id`/*//x\ny/\\/\"'\"/--/";
    char output[512];
    CHECK_OK(cluster_hosts_expand(&shell, 0, words, line, sizeof line, error, sizeof error));
    cluster_shell_output(line, output, sizeof output);
    CHECK_STR(output, expected);
    char *printf_words[13] = {"printf", "%s/"}; /* and the 10 words, and NULL */
    memcpy(printf_words + 2, words, sizeof words - sizeof words[0]);
    CHECK_OK(cluster_hosts_expand(&shell, 1, printf_words, line, sizeof line, error,
                                  sizeof error));
    cluster_shell_output(line, output, sizeof output);
    CHECK_STR(output, expected);

    /* Too small a buffer, and no command. */
    CHECK_INT(cluster_hosts_expand(&hosts, 1, simple, line, 20, error, sizeof error), ==,
              ARI_ENOMEM);
    CHECK_STR(error, "launch on host 'beta': the command line needs 65 bytes, more than the 20 "
                     "there is room for");
    char *none[] = {NULL};
    CHECK_INT(cluster_hosts_expand(&hosts, 1, none, line, sizeof line, error, sizeof error), ==,
              ARI_EINVAL);
    CHECK_INT(cluster_hosts_expand(&hosts, 9, one, line, sizeof line, error, sizeof error), ==,
              ARI_EINVAL);
    CHECK_STR(error, "launch: no host 9 or no command to start");
    cluster_hosts_free(&shell);
    cluster_hosts_free(&hosts);
}

/* ------------------------------------------------------------------------
 * Placing nodes
 * ------------------------------------------------------------------------ */

TEST_FN(cluster_hosts_place)
{
    const char *text = "a 10.0.0.1:100 2\nb 10.0.0.2:200 1\nc 10.0.0.3:300 3\n";
    cluster_hosts_t hosts;
    char error[CLUSTER_HOSTS_ERROR_MAX];
    CHECK_OK(cluster_hosts_parse(text, strlen(text), "h.txt", &hosts, error, sizeof error));
    cluster_place_t places[7];
    CHECK_OK(cluster_hosts_place(&hosts, "h.txt", 6, places, error, sizeof error));
    static const cluster_place_t expected[6] = {{0, 0, 100}, {0, 1, 101}, {1, 0, 200},
                                                {2, 0, 300}, {2, 1, 301}, {2, 2, 302}};
    for (int i = 0; i < 6; i++) {
        CHECK_INT(places[i].host, ==, expected[i].host);
        CHECK_INT(places[i].slot, ==, expected[i].slot);
        CHECK_INT(places[i].port, ==, expected[i].port);
    }
    memset(places, 0xff, sizeof places);
    CHECK_OK(cluster_hosts_place(&hosts, "h.txt", 3, places, error, sizeof error));
    CHECK_INT(places[2].host, ==, 1);
    CHECK_INT(places[3].host, ==, 0xffffffffu); /* nothing past the nodes asked for */
    CHECK_INT(cluster_hosts_place(&hosts, "h.txt", 7, places, error, sizeof error), ==,
              ARI_EINVAL);
    CHECK_STR(error, "h.txt: 7 nodes asked for, but its 3 hosts have 6 slots in all");
    CHECK_INT(cluster_hosts_place(&hosts, "h.txt", 0, places, error, sizeof error), ==,
              ARI_EINVAL);
    cluster_hosts_free(&hosts);
}

/* ------------------------------------------------------------------------
 * Rank variables
 * ------------------------------------------------------------------------ */

TEST_FN(cluster_rank_env)
{
    static const struct {
        const char *env[5];
        int status;
        unsigned rank, size;
        const char *source_or_error;
    } cases[] = {
        {{"SLURM_PROCID=3", "SLURM_NTASKS=4"}, ARI_OK, 3, 4, "SLURM_PROCID"},
        {{"PMI_RANK=0", "PMI_SIZE=1"}, ARI_OK, 0, 1, "PMI_RANK"},
        {{"SLURM_PROCID=0", "SLURM_NTASKS=1", "OMPI_COMM_WORLD_RANK=2",
          "OMPI_COMM_WORLD_SIZE=8"},
         ARI_OK, 2, 8, "OMPI_COMM_WORLD_RANK"},
        {{"PATH=/bin", "PMI_SIZE=4096", "PMI_RANK=4095", "SLURM_PROCID=9"}, ARI_OK, 4095, 4096,
         "PMI_RANK"},
        {{"SLURM_PROCID=3x", "SLURM_NTASKS=4"}, ARI_EINVAL, 0, 0,
         "SLURM_PROCID is '3x', not a number from 0 to 3 (SLURM_NTASKS is 4)"},
        {{"SLURM_PROCID=4", "SLURM_NTASKS=4"}, ARI_EINVAL, 0, 0,
         "SLURM_PROCID is '4', not a number from 0 to 3 (SLURM_NTASKS is 4)"},
        {{"SLURM_PROCID=-1", "SLURM_NTASKS=4"}, ARI_EINVAL, 0, 0,
         "SLURM_PROCID is '-1', not a number from 0 to 3 (SLURM_NTASKS is 4)"},
        {{"SLURM_PROCID=1", "SLURM_NTASKS= 4"}, ARI_EINVAL, 0, 0,
         "SLURM_NTASKS is ' 4', not a number from 1 to 4096"},
        {{"SLURM_PROCID=0", "SLURM_NTASKS="}, ARI_EINVAL, 0, 0,
         "SLURM_NTASKS is '', not a number from 1 to 4096"},
        {{"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=0"}, ARI_EINVAL, 0, 0,
         "OMPI_COMM_WORLD_SIZE is '0', not a number from 1 to 4096"},
        {{"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=4097"}, ARI_EINVAL, 0, 0,
         "OMPI_COMM_WORLD_SIZE is '4097', not a number from 1 to 4096"},
        {{"PMI_RANK=1"}, ARI_EINVAL, 0, 0, "PMI_RANK is set but PMI_SIZE is not (a launcher sets "
                                           "both)"},
        {{"OMPI_COMM_WORLD_SIZE=2", "SLURM_PROCID=0", "SLURM_NTASKS=1"}, ARI_EINVAL, 0, 0,
         "OMPI_COMM_WORLD_SIZE is set but OMPI_COMM_WORLD_RANK is not (a launcher sets both)"},
        {{"SLURM_PROCIDX=1", "HOME=/root"}, ARI_ENOTSUP, 0, 0,
         "no rank variables: none of OMPI_COMM_WORLD_RANK, PMI_RANK or SLURM_PROCID is set (not "
         "started by mpirun or srun)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cluster_rank_t rank = {7, 7, NULL};
        char error[256] = "";
        int status = cluster_rank_from_env((char *const *)cases[i].env, &rank, error, sizeof error);
        if (status != cases[i].status)
            test_fail(__FILE__, __LINE__, "case %zu: status %d (%s)", i, status, error);
        if (status == ARI_OK) {
            CHECK_INT(rank.rank, ==, cases[i].rank);
            CHECK_INT(rank.size, ==, cases[i].size);
            CHECK_STR(rank.source, cases[i].source_or_error);
        } else {
            CHECK_STR(error, cases[i].source_or_error);
            CHECK_INT(rank.rank, ==, 7); /* untouched on failure */
        }
    }
    /* NULL: this process's environment (the test runs in its own child). */
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_RANK");
    unsetenv("PMI_SIZE");
    setenv("SLURM_PROCID", "5", 1);
    setenv("SLURM_NTASKS", "6", 1);
    cluster_rank_t rank;
    char error[256];
    CHECK_OK(cluster_rank_from_env(NULL, &rank, error, sizeof error));
    CHECK_INT(rank.rank, ==, 5);
    CHECK_INT(rank.size, ==, 6);
}
