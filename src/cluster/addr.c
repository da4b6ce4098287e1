/*
 * addr — address text: classification and "addr:port" parsing.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ariadne.h"

/* inet_pton needs a NUL-terminated string; no address text form is
 * longer than this (an IPv6 address with an embedded IPv4 part is 45). */
#define ADDR_NUMERIC_MAX 63u

/* Checks a numeric address; with `canonical` (ADDR_NUMERIC_MAX + 1 bytes)
 * also writes its canonical text form, so "0::1" and "::1" compare equal. */
static bool addr_numeric(int family, const char *text, size_t length, char *canonical)
{
    char copy[ADDR_NUMERIC_MAX + 1];
    unsigned char binary[16];
    if (length == 0 || length > ADDR_NUMERIC_MAX || memchr(text, '\0', length) != NULL)
        return false;
    memcpy(copy, text, length);
    copy[length] = '\0';
    if (inet_pton(family, copy, binary) != 1)
        return false;
    return canonical == NULL || inet_ntop(family, binary, canonical, ADDR_NUMERIC_MAX + 1) != NULL;
}

static bool addr_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* A DNS-style name: labels of 1 to 63 characters joined by dots. */
static bool addr_name(const char *text, size_t length)
{
    if (length == 0 || length > CLUSTER_ADDR_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i == length || text[i] == '.') {
            if (label == 0 || label > 63 || text[i - label] == '-' || text[i - 1] == '-')
                return false;
            label = 0;
        } else if (addr_label_char(text[i])) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

cluster_addr_kind_t cluster_addr_kind(const char *text, size_t length)
{
    if (memchr(text, ':', length) != NULL)
        return addr_numeric(AF_INET6, text, length, NULL) ? CLUSTER_ADDR_IPV6 : 0;
    bool digits_and_dots = length > 0;
    for (size_t i = 0; i < length; i++)
        digits_and_dots = digits_and_dots && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.');
    /* "10.0.0" is a typo of an IPv4 address, not a name (no top-level
     * domain is all digits). */
    if (digits_and_dots)
        return addr_numeric(AF_INET, text, length, NULL) ? CLUSTER_ADDR_IPV4 : 0;
    return addr_name(text, length) ? CLUSTER_ADDR_NAME : 0;
}

bool cluster_addr_port(const char *text, size_t length, uint16_t *port_out)
{
    if (length == 0 || length > 5)
        return false;
    uint32_t port = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        port = port * 10 + (uint32_t)(text[i] - '0');
    }
    if (port == 0 || port > 65535)
        return false;
    *port_out = (uint16_t)port;
    return true;
}

/* Quotes at most 40 bytes of the text in a message, so a long line does not
 * push the reason out of the error buffer. */
static int addr_why(char *why, size_t why_size, const char *what, const char *text, size_t length,
                    const char *after)
{
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "%s '%.*s'%s%s", what, length > 40 ? 40 : (int)length, text,
                 length > 40 ? "..." : "", after);
    return ARI_EINVAL;
}

int cluster_addr_parse(const char *text, size_t length, uint16_t port_default,
                       cluster_endpoint_t *endpoint_out, cluster_addr_kind_t *kind_out, char *why,
                       size_t why_size)
{
    const char *host = text, *port_text = NULL;
    size_t host_length = length, port_length = 0;
    if (length > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', length);
        if (close == NULL)
            return addr_why(why, why_size, "IPv6 address", text, length, " lacks its closing ']'");
        host = text + 1;
        host_length = (size_t)(close - host);
        size_t rest = length - (size_t)(close + 1 - text);
        if (rest > 0 && close[1] != ':')
            return addr_why(why, why_size, "address", text, length,
                            " has text after ']' (expected ':PORT' or nothing)");
        if (rest > 0) {
            port_text = close + 2;
            port_length = rest - 1;
        }
        if (cluster_addr_kind(host, host_length) != CLUSTER_ADDR_IPV6)
            return addr_why(why, why_size, "address", text, length,
                            " holds no valid IPv6 address between its brackets");
    } else {
        const char *colon = memchr(text, ':', length);
        /* One colon separates a port; more make a bare IPv6 address. */
        if (colon != NULL && memchr(colon + 1, ':', length - (size_t)(colon + 1 - text)) == NULL) {
            host_length = (size_t)(colon - text);
            port_text = colon + 1;
            port_length = length - host_length - 1;
        }
    }
    uint16_t port = port_default;
    if (port_text != NULL && !cluster_addr_port(port_text, port_length, &port))
        return addr_why(why, why_size, "port must be a number from 1 to 65535, not", port_text,
                        port_length, "");
    cluster_addr_kind_t kind = cluster_addr_kind(host, host_length);
    if (kind == 0 || host_length > CLUSTER_ADDR_MAX)
        return addr_why(why, why_size, "address", text, length,
                        " is not an IPv4 address, an IPv6 address or a host name");
    char canonical[ADDR_NUMERIC_MAX + 1];
    if (kind != CLUSTER_ADDR_NAME && addr_numeric(kind == CLUSTER_ADDR_IPV4 ? AF_INET : AF_INET6,
                                                  host, host_length, canonical)) {
        host = canonical;
        host_length = strlen(canonical);
    }
    memcpy(endpoint_out->addr, host, host_length);
    endpoint_out->addr[host_length] = '\0';
    endpoint_out->port = port;
    *kind_out = kind;
    return ARI_OK;
}
