/*
 * addr — host addresses as the hosts file, the join's wire format and the
 * command line write them: an IPv4 address, an IPv6 address, or a host
 * name, with an optional port ("10.0.0.1:7000", "[fe80::1]:7000",
 * "node-3.example"). Pure code: no resolution, no sockets.
 */
#ifndef ARIADNE_CLUSTER_ADDR_H
#define ARIADNE_CLUSTER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest address text without brackets or port: a DNS name's limit,
 * which is longer than any IPv4 or IPv6 text form. */
#define CLUSTER_ADDR_MAX 253u

typedef enum {
    CLUSTER_ADDR_IPV4 = 1,
    CLUSTER_ADDR_IPV6 = 2,
    CLUSTER_ADDR_NAME = 3,
} cluster_addr_kind_t;

/* Where a node can be reached: the address (no brackets, no port; IPv6 in
 * its plain text form) and a TCP port. */
typedef struct {
    char addr[CLUSTER_ADDR_MAX + 1];
    uint16_t port;
} cluster_endpoint_t;

/* Classifies `length` bytes as an address without a port: returns its
 * kind, or 0 when it is none of them. A name has labels of 1 to 63
 * letters, digits, '-' or '_' joined by '.', none starting or ending
 * with '-'; text of only digits and dots must be a valid IPv4 address. */
cluster_addr_kind_t cluster_addr_kind(const char *text, size_t length);

/* Parses "ADDR", "ADDR:PORT", "[IPV6]" or "[IPV6]:PORT" (a bare IPv6
 * address takes no port: it has colons of its own). Without a port,
 * `port_default` is used. Ports run from 1 to 65535. Returns 0 and fills
 * *endpoint_out and *kind_out, or ARI_EINVAL with one phrase in `why`
 * (e.g. "port must be a number from 1 to 65535, not '0'") for the caller
 * to put after its own "file:line: ". */
int cluster_addr_parse(const char *text, size_t length, uint16_t port_default,
                       cluster_endpoint_t *endpoint_out, cluster_addr_kind_t *kind_out, char *why,
                       size_t why_size);

/* Reads a decimal port, 1 to 65535, from exactly `length` bytes. */
bool cluster_addr_port(const char *text, size_t length, uint16_t *port_out);

#endif /* ARIADNE_CLUSTER_ADDR_H */
