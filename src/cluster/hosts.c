/*
 * hosts — the hosts file: parsing, launch templates, placing nodes.
 */
#include "hosts.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ariadne.h"

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

typedef struct {
    const char *file;
    uint32_t line;
    char *error;
    size_t error_size;
    cluster_hosts_t *hosts; /* being built */
    uint32_t capacity;
    uint32_t launch_line, port_line; /* where the defaults were set, 0: not yet */
    uint16_t port_default;
} hosts_parser_t;

/* A piece of a line: start, length, and 1-based column. */
typedef struct {
    const char *text;
    size_t length;
    size_t column;
} hosts_token_t;

/* Writes "FILE:LINE: message" and returns ARI_EINVAL. */
__attribute__((format(printf, 2, 3))) static int hosts_error(const hosts_parser_t *parser,
                                                             const char *format, ...)
{
    if (parser->error != NULL && parser->error_size > 0) {
        int prefix =
            snprintf(parser->error, parser->error_size, "%s:%u: ", parser->file, parser->line);
        if (prefix >= 0 && (size_t)prefix < parser->error_size) {
            va_list args;
            va_start(args, format);
            vsnprintf(parser->error + prefix, parser->error_size - (size_t)prefix, format, args);
            va_end(args);
        }
    }
    return ARI_EINVAL;
}

/* Quoted text in a message is cut at 40 bytes so the reason stays in view. */
#define HOSTS_QUOTE_MAX 40
#define HOSTS_QUOTE(token)                                                                         \
    (token).length > HOSTS_QUOTE_MAX ? HOSTS_QUOTE_MAX : (int)(token).length, (token).text,        \
        (token).length > HOSTS_QUOTE_MAX ? "..." : ""

/* ------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------ */

static bool hosts_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The word at `*rest` (up to a blank, or to `stop`), advancing past it
 * and the blanks after it. */
static hosts_token_t hosts_word(hosts_token_t *rest, char stop)
{
    hosts_token_t word = {rest->text, 0, rest->column};
    while (word.length < rest->length && !hosts_blank(rest->text[word.length]) &&
           rest->text[word.length] != stop)
        word.length++;
    size_t skip = word.length;
    while (skip < rest->length && hosts_blank(rest->text[skip]))
        skip++;
    rest->text += skip;
    rest->length -= skip;
    rest->column += skip;
    return word;
}

static void hosts_skip_blanks(hosts_token_t *rest)
{
    while (rest->length > 0 && hosts_blank(rest->text[0])) {
        rest->text++;
        rest->length--;
        rest->column++;
    }
}

/* Takes the '=' of "KEY = VALUE" and the blanks after it; false if absent. */
static bool hosts_take_equals(hosts_token_t *rest)
{
    if (rest->length == 0 || rest->text[0] != '=')
        return false;
    rest->text++;
    rest->length--;
    rest->column++;
    hosts_skip_blanks(rest);
    return true;
}

static bool hosts_token_is(hosts_token_t token, const char *word)
{
    return token.length == strlen(word) && memcmp(token.text, word, token.length) == 0;
}

/* Reads a decimal number of at most 9 digits. */
static bool hosts_number(hosts_token_t token, uint32_t *value_out)
{
    if (token.length == 0 || token.length > 9)
        return false;
    uint32_t value = 0;
    for (size_t i = 0; i < token.length; i++) {
        if (token.text[i] < '0' || token.text[i] > '9')
            return false;
        value = value * 10 + (uint32_t)(token.text[i] - '0');
    }
    *value_out = value;
    return true;
}

/* ------------------------------------------------------------------------
 * Launch templates
 * ------------------------------------------------------------------------ */

typedef enum {
    HOSTS_PART_TEXT,
    HOSTS_PART_HOST,
    HOSTS_PART_ADDR,
    HOSTS_PART_PORT,
    HOSTS_PART_CMD,
    HOSTS_PART_CMDLINE,
    HOSTS_PART_UNKNOWN,
    HOSTS_PART_UNCLOSED,
} hosts_part_kind_t;

static const struct {
    const char *name;
    hosts_part_kind_t kind;
} hosts_placeholders[] = {
    {"{host}", HOSTS_PART_HOST}, {"{addr}", HOSTS_PART_ADDR},       {"{port}", HOSTS_PART_PORT},
    {"{cmd}", HOSTS_PART_CMD},   {"{cmdline}", HOSTS_PART_CMDLINE},
};

/* The next piece of a template at `offset`: literal text (up to the next
 * '{'; "{{" is one literal '{') or one placeholder. Sets *length_out to the
 * bytes it takes from the template. */
static hosts_part_kind_t hosts_template_part(const char *text, size_t length, size_t offset,
                                             size_t *length_out)
{
    if (text[offset] != '{') {
        size_t end = offset;
        while (end < length && text[end] != '{')
            end++;
        *length_out = end - offset;
        return HOSTS_PART_TEXT;
    }
    if (offset + 1 < length && text[offset + 1] == '{') {
        *length_out = 2;
        return HOSTS_PART_TEXT;
    }
    const char *close = memchr(text + offset, '}', length - offset);
    if (close == NULL) {
        *length_out = length - offset;
        return HOSTS_PART_UNCLOSED;
    }
    *length_out = (size_t)(close - (text + offset)) + 1;
    for (size_t i = 0; i < sizeof hosts_placeholders / sizeof hosts_placeholders[0]; i++) {
        if (strlen(hosts_placeholders[i].name) == *length_out &&
            memcmp(hosts_placeholders[i].name, text + offset, *length_out) == 0)
            return hosts_placeholders[i].kind;
    }
    return HOSTS_PART_UNKNOWN;
}

/* A template names known placeholders only, and the command exactly once. */
static int hosts_template_check(const hosts_parser_t *parser, hosts_token_t template)
{
    if (template.length == 0)
        return hosts_error(parser, "empty launch template (it needs {cmd} or {cmdline})");
    unsigned commands = 0;
    for (size_t offset = 0, length; offset < template.length; offset += length) {
        hosts_part_kind_t kind =
            hosts_template_part(template.text, template.length, offset, &length);
        hosts_token_t part = {template.text + offset, length, template.column + offset};
        if (kind == HOSTS_PART_UNCLOSED)
            return hosts_error(parser,
                               "launch template: '{' at column %zu is not closed by '}' "
                               "(write '{{' for a literal '{')",
                               part.column);
        if (kind == HOSTS_PART_UNKNOWN)
            return hosts_error(parser,
                               "launch template: unknown placeholder '%.*s%s' at column "
                               "%zu (known: {host} {addr} {port} {cmd} {cmdline})",
                               HOSTS_QUOTE(part), part.column);
        commands += kind == HOSTS_PART_CMD || kind == HOSTS_PART_CMDLINE;
    }
    if (commands != 1)
        return hosts_error(parser,
                           "launch template must name the command once, as {cmd} or "
                           "{cmdline}; it names it %u times",
                           commands);
    return ARI_OK;
}

typedef struct {
    char *out;
    size_t size, used; /* used may pass size: then the output is cut */
} hosts_writer_t;

static void hosts_put(hosts_writer_t *writer, const char *text, size_t length)
{
    if (writer->used < writer->size) {
        size_t room = writer->size - writer->used;
        memcpy(writer->out + writer->used, text, length < room ? length : room);
    }
    writer->used += length;
}

/* Words of these bytes only mean themselves to the shell; '=' is not one
 * of them, since "A=b" as a first word would be an assignment. */
static bool hosts_shell_plain(const char *word, size_t length)
{
    if (length == 0)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = word[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_./:@%+,-", c) != NULL))
            return false;
    }
    return true;
}

/* One shell word: as is when plain, else in single quotes, each quote
 * inside written as '\'' (close, escaped quote, reopen). */
static void hosts_put_quoted(hosts_writer_t *writer, const char *word, size_t length)
{
    if (hosts_shell_plain(word, length)) {
        hosts_put(writer, word, length);
        return;
    }
    hosts_put(writer, "'", 1);
    for (size_t i = 0; i < length; i++) {
        if (word[i] == '\'')
            hosts_put(writer, "'\\''", 4);
        else
            hosts_put(writer, &word[i], 1);
    }
    hosts_put(writer, "'", 1);
}

static void hosts_put_command(hosts_writer_t *writer, char *const argv[])
{
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (i > 0)
            hosts_put(writer, " ", 1);
        hosts_put_quoted(writer, argv[i], strlen(argv[i]));
    }
}

/* {cmdline}: the quoted command, quoted once more. Measured first, then
 * written to a buffer of its size. */
static int hosts_put_cmdline(hosts_writer_t *writer, char *const argv[])
{
    hosts_writer_t measure = {NULL, 0, 0};
    hosts_put_command(&measure, argv);
    hosts_writer_t inner = {malloc(measure.used + 1), measure.used, 0};
    if (inner.out == NULL)
        return ARI_ENOMEM;
    hosts_put_command(&inner, argv);
    hosts_put_quoted(writer, inner.out, inner.used);
    free(inner.out);
    return ARI_OK;
}

static int hosts_put_part(hosts_writer_t *writer, const cluster_host_t *host,
                          hosts_part_kind_t kind, const char *text, size_t length,
                          char *const argv[])
{
    char port[8];
    switch (kind) {
    case HOSTS_PART_TEXT:
        hosts_put(writer, text, text[0] == '{' ? 1 : length); /* "{{" is one '{' */
        return ARI_OK;
    case HOSTS_PART_HOST: /* names and addresses hold no shell metacharacters */
        hosts_put(writer, host->name, strlen(host->name));
        return ARI_OK;
    case HOSTS_PART_ADDR:
        hosts_put(writer, host->endpoint.addr, strlen(host->endpoint.addr));
        return ARI_OK;
    case HOSTS_PART_PORT:
        snprintf(port, sizeof port, "%u", (unsigned)host->endpoint.port);
        hosts_put(writer, port, strlen(port));
        return ARI_OK;
    case HOSTS_PART_CMD:
        hosts_put_command(writer, argv);
        return ARI_OK;
    case HOSTS_PART_CMDLINE:
        return hosts_put_cmdline(writer, argv);
    case HOSTS_PART_UNKNOWN:
    case HOSTS_PART_UNCLOSED:
        break;
    }
    return ARI_EINVAL; /* NEVER: templates are checked when parsed */
}

const char *cluster_hosts_launch(const cluster_hosts_t *hosts, uint32_t index)
{
    const char *own = hosts->hosts[index].launch;
    return own != NULL ? own : hosts->launch_default;
}

int cluster_hosts_expand(const cluster_hosts_t *hosts, uint32_t index, char *const argv[],
                         char *out, size_t out_size, char *error, size_t error_size)
{
    if (index >= hosts->count || argv == NULL || argv[0] == NULL || out_size == 0) {
        snprintf(error, error_size, "launch: no host %u or no command to start", index);
        return ARI_EINVAL;
    }
    const cluster_host_t *host = &hosts->hosts[index];
    const char *template = cluster_hosts_launch(hosts, index);
    size_t length = strlen(template);
    hosts_writer_t writer = {out, out_size - 1, 0};
    for (size_t offset = 0, part; offset < length; offset += part) {
        hosts_part_kind_t kind = hosts_template_part(template, length, offset, &part);
        int status = hosts_put_part(&writer, host, kind, template + offset, part, argv);
        if (status != ARI_OK) {
            snprintf(error, error_size, "launch on host '%s': %s", host->name,
                     ari_strerror(status));
            return status;
        }
    }
    if (writer.used > writer.size) {
        snprintf(error, error_size,
                 "launch on host '%s': the command line needs %zu bytes, "
                 "more than the %zu there is room for",
                 host->name, writer.used + 1, out_size);
        return ARI_ENOMEM;
    }
    out[writer.used] = '\0';
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Lines
 * ------------------------------------------------------------------------ */

/* `default launch = TEMPLATE` or `default port = N`, before any host. */
static int hosts_default(hosts_parser_t *parser, hosts_token_t rest)
{
    cluster_hosts_t *hosts = parser->hosts;
    hosts_token_t what = hosts_word(&rest, '=');
    bool launch = hosts_token_is(what, "launch");
    if (!launch && !hosts_token_is(what, "port"))
        return hosts_error(parser,
                           "unknown default '%.*s%s' (expected 'default launch = "
                           "TEMPLATE' or 'default port = N')",
                           HOSTS_QUOTE(what));
    if (hosts->count > 0)
        return hosts_error(parser, "'default %s' must come before the first host (line %u)",
                           launch ? "launch" : "port", hosts->hosts[0].line);
    uint32_t *seen = launch ? &parser->launch_line : &parser->port_line;
    if (*seen != 0)
        return hosts_error(parser, "second 'default %s' (the first is on line %u)",
                           launch ? "launch" : "port", *seen);
    if (!hosts_take_equals(&rest))
        return hosts_error(parser, "'default %s' needs '= %s'", launch ? "launch" : "port",
                           launch ? "TEMPLATE" : "N");
    *seen = parser->line;
    if (!launch) {
        if (!cluster_addr_port(rest.text, rest.length, &parser->port_default))
            return hosts_error(parser,
                               "default port must be a number from 1 to 65535, not "
                               "'%.*s%s'",
                               HOSTS_QUOTE(rest));
        return ARI_OK;
    }
    int status = hosts_template_check(parser, rest);
    if (status != ARI_OK)
        return status;
    char *copy = strndup(rest.text, rest.length);
    if (copy == NULL)
        return ARI_ENOMEM;
    free(hosts->launch_default);
    hosts->launch_default = copy;
    return ARI_OK;
}

/* A host's name: letters, digits, '.', '-', '_', starting with a letter or
 * digit, so it is safe in a shell command and as a network namespace. */
static bool hosts_name_valid(hosts_token_t name)
{
    if (name.length == 0 || name.length > CLUSTER_NAME_MAX || strchr("-._", name.text[0]) != NULL)
        return false;
    for (size_t i = 0; i < name.length; i++) {
        char c = name.text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

/* A new host must not reuse a name, nor a port of another host at the same
 * address (names compare without case, as DNS does). */
static int hosts_check_unique(const hosts_parser_t *parser, const cluster_host_t *host)
{
    const cluster_hosts_t *hosts = parser->hosts;
    uint32_t first = host->endpoint.port, last = first + host->slots - 1;
    for (uint32_t i = 0; i < hosts->count; i++) {
        const cluster_host_t *other = &hosts->hosts[i];
        if (strcmp(other->name, host->name) == 0)
            return hosts_error(parser, "host '%s' is already defined on line %u", host->name,
                               other->line);
        uint32_t other_first = other->endpoint.port, other_last = other_first + other->slots - 1;
        if (strcasecmp(other->endpoint.addr, host->endpoint.addr) == 0 && first <= other_last &&
            other_first <= last)
            return hosts_error(parser,
                               "host '%s' takes ports %u to %u of %s, which host '%s' "
                               "(line %u) takes too",
                               host->name, first, last, host->endpoint.addr, other->name,
                               other->line);
    }
    return ARI_OK;
}

/* Reads NAME ADDRESS SLOTS into *host; the optional launch part is left in
 * *rest. */
static int hosts_host_fields(hosts_parser_t *parser, hosts_token_t *rest, cluster_host_t *host)
{
    hosts_token_t name = hosts_word(rest, '\0');
    if (!hosts_name_valid(name))
        return hosts_error(parser,
                           "host name '%.*s%s' may hold only letters, digits, '.', '-' "
                           "and '_' (at most %u bytes, starting with a letter or digit)",
                           HOSTS_QUOTE(name), CLUSTER_NAME_MAX);
    memcpy(host->name, name.text, name.length);
    host->name[name.length] = '\0';
    hosts_token_t address = hosts_word(rest, '\0');
    if (address.length == 0)
        return hosts_error(parser,
                           "host '%s' needs an address and its slots "
                           "(NAME ADDRESS SLOTS)",
                           host->name);
    char why[160];
    if (cluster_addr_parse(address.text, address.length, parser->port_default, &host->endpoint,
                           &host->addr_kind, why, sizeof why) != ARI_OK)
        return hosts_error(parser, "%s", why);
    hosts_token_t slots = hosts_word(rest, '\0');
    if (slots.length == 0)
        return hosts_error(parser,
                           "host '%s' needs its slots after the address "
                           "(NAME ADDRESS SLOTS)",
                           host->name);
    if (!hosts_number(slots, &host->slots) || host->slots == 0 || host->slots > CLUSTER_SLOTS_MAX)
        return hosts_error(parser, "slots must be a number from 1 to %u, not '%.*s%s'",
                           CLUSTER_SLOTS_MAX, HOSTS_QUOTE(slots));
    if ((uint32_t)host->endpoint.port + host->slots - 1 > 65535)
        return hosts_error(parser, "host '%s' needs ports %u to %u (one a slot), past 65535",
                           host->name, host->endpoint.port,
                           (uint32_t)host->endpoint.port + host->slots - 1);
    return ARI_OK;
}

/* After the slots: nothing, or `launch = TEMPLATE`. */
static int hosts_host_launch(hosts_parser_t *parser, hosts_token_t rest, cluster_host_t *host)
{
    if (rest.length == 0)
        return ARI_OK;
    hosts_token_t keyword = hosts_word(&rest, '=');
    if (!hosts_token_is(keyword, "launch"))
        return hosts_error(parser,
                           "expected 'launch = TEMPLATE' after the slots, not "
                           "'%.*s%s'",
                           HOSTS_QUOTE(keyword));
    if (!hosts_take_equals(&rest))
        return hosts_error(parser, "'launch' needs '= TEMPLATE'");
    int status = hosts_template_check(parser, rest);
    if (status != ARI_OK)
        return status;
    host->launch = strndup(rest.text, rest.length);
    return host->launch != NULL ? ARI_OK : ARI_ENOMEM;
}

static int hosts_append(hosts_parser_t *parser, const cluster_host_t *host)
{
    cluster_hosts_t *hosts = parser->hosts;
    if (hosts->count == CLUSTER_HOSTS_MAX)
        return hosts_error(parser, "more than %u hosts", CLUSTER_HOSTS_MAX);
    if (hosts->slots_total + host->slots > CLUSTER_NODES_MAX)
        return hosts_error(parser,
                           "more than %u node slots in all (%u before this line, %u "
                           "here)",
                           CLUSTER_NODES_MAX, hosts->slots_total, host->slots);
    if (hosts->count == parser->capacity) {
        uint32_t capacity = parser->capacity ? 2 * parser->capacity : 16;
        cluster_host_t *grown = realloc(hosts->hosts, capacity * sizeof *grown);
        if (grown == NULL)
            return ARI_ENOMEM;
        hosts->hosts = grown;
        parser->capacity = capacity;
    }
    hosts->hosts[hosts->count++] = *host;
    hosts->slots_total += host->slots;
    return ARI_OK;
}

static int hosts_host(hosts_parser_t *parser, hosts_token_t rest)
{
    cluster_host_t host;
    memset(&host, 0, sizeof host);
    host.line = parser->line;
    int status = hosts_host_fields(parser, &rest, &host);
    if (status == ARI_OK)
        status = hosts_check_unique(parser, &host);
    if (status == ARI_OK)
        status = hosts_host_launch(parser, rest, &host);
    if (status == ARI_OK)
        status = hosts_append(parser, &host);
    if (status != ARI_OK)
        free(host.launch);
    return status;
}

/* Control bytes other than a tab are refused: they hide in terminals. */
static int hosts_line_bytes(const hosts_parser_t *parser, const char *text, size_t length)
{
    if (length > CLUSTER_LINE_MAX)
        return hosts_error(parser, "line is longer than %u bytes", CLUSTER_LINE_MAX);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return hosts_error(parser, "control character 0x%02x at column %zu", c, i + 1);
    }
    return ARI_OK;
}

/* One line without its newline: a comment, blank, a default or a host. A
 * '#' at the start or after a blank begins a comment. */
static int hosts_line(hosts_parser_t *parser, const char *text, size_t length)
{
    if (length > 0 && text[length - 1] == '\r')
        length--; /* a file written on Windows */
    int status = hosts_line_bytes(parser, text, length);
    if (status != ARI_OK)
        return status;
    for (size_t i = 0; i < length; i++) {
        if (text[i] == '#' && (i == 0 || hosts_blank(text[i - 1])))
            length = i;
    }
    while (length > 0 && hosts_blank(text[length - 1]))
        length--;
    hosts_token_t rest = {text, length, 1};
    hosts_skip_blanks(&rest);
    if (rest.length == 0)
        return ARI_OK;
    hosts_token_t probe = rest;
    if (hosts_token_is(hosts_word(&probe, '\0'), "default"))
        return hosts_default(parser, probe);
    return hosts_host(parser, rest);
}

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

void cluster_hosts_free(cluster_hosts_t *hosts)
{
    if (hosts == NULL)
        return;
    for (uint32_t i = 0; i < hosts->count; i++)
        free(hosts->hosts[i].launch);
    free(hosts->hosts);
    free(hosts->launch_default);
    memset(hosts, 0, sizeof *hosts);
}

static int hosts_parse_lines(hosts_parser_t *parser, const char *text, size_t length)
{
    size_t start = 0;
    while (start < length) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline != NULL ? (size_t)(newline - text) : length;
        parser->line++;
        int status = hosts_line(parser, text + start, end - start);
        if (status != ARI_OK)
            return status;
        start = end + 1;
    }
    if (parser->hosts->count == 0) {
        parser->line = parser->line > 0 ? parser->line : 1;
        return hosts_error(parser, "no hosts (expected lines 'NAME ADDRESS SLOTS')");
    }
    return ARI_OK;
}

int cluster_hosts_parse(const char *text, size_t length, const char *file_name,
                        cluster_hosts_t *out, char *error, size_t error_size)
{
    cluster_hosts_t hosts;
    memset(&hosts, 0, sizeof hosts);
    hosts_parser_t parser = {.file = file_name,
                             .error = error,
                             .error_size = error_size,
                             .hosts = &hosts,
                             .port_default = CLUSTER_PORT_DEFAULT};
    if (error != NULL && error_size > 0)
        error[0] = '\0';
    int status = hosts_parse_lines(&parser, text, length);
    if (status == ARI_OK && hosts.launch_default == NULL) {
        hosts.launch_default = strdup(CLUSTER_LAUNCH_DEFAULT);
        status = hosts.launch_default != NULL ? ARI_OK : ARI_ENOMEM;
    }
    if (status == ARI_ENOMEM)
        snprintf(error, error_size, "%s: out of memory", file_name);
    if (status != ARI_OK) {
        cluster_hosts_free(&hosts);
        return status;
    }
    *out = hosts;
    return ARI_OK;
}

int cluster_hosts_load(const char *path, cluster_hosts_t *out, char *error, size_t error_size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(error, error_size, "cannot open %s: %s", path, strerror(errno));
        return ARI_EIO;
    }
    char *text = malloc(CLUSTER_HOSTS_FILE_MAX + 1);
    size_t length = text != NULL ? fread(text, 1, CLUSTER_HOSTS_FILE_MAX + 1, file) : 0;
    int status = ARI_OK;
    if (text == NULL) {
        snprintf(error, error_size, "%s: out of memory", path);
        status = ARI_ENOMEM;
    } else if (ferror(file)) {
        snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
        status = ARI_EIO;
    } else if (length > CLUSTER_HOSTS_FILE_MAX) {
        snprintf(error, error_size, "%s: larger than %u bytes (is it a hosts file?)", path,
                 CLUSTER_HOSTS_FILE_MAX);
        status = ARI_EINVAL;
    }
    fclose(file);
    if (status == ARI_OK)
        status = cluster_hosts_parse(text, length, path, out, error, error_size);
    free(text);
    return status;
}

/* ------------------------------------------------------------------------
 * Placing nodes
 * ------------------------------------------------------------------------ */

int cluster_hosts_place(const cluster_hosts_t *hosts, const char *file_name, uint32_t nodes,
                        cluster_place_t *places_out, char *error, size_t error_size)
{
    if (nodes == 0 || nodes > hosts->slots_total) {
        snprintf(error, error_size,
                 "%s: %u nodes asked for, but its %u hosts have %u slots "
                 "in all",
                 file_name, nodes, hosts->count, hosts->slots_total);
        return ARI_EINVAL;
    }
    uint32_t host = 0, slot = 0;
    for (uint32_t node = 0; node < nodes; node++) {
        if (slot == hosts->hosts[host].slots) {
            host++;
            slot = 0;
        }
        assert(host < hosts->count); /* nodes <= slots_total, the sum of the hosts' slots */
        places_out[node] =
            (cluster_place_t){host, slot, (uint16_t)(hosts->hosts[host].endpoint.port + slot)};
        slot++;
    }
    return ARI_OK;
}
