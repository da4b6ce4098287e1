/*
 * crumb — where a queued waiter is (docs/PROTOCOL.md, "Crumbs").
 *
 * A DENY(queued) on its way back to a waiter leaves at each DPU it passes a
 * record (page, waiter) -> the port it left by. A grant sent later to that
 * waiter has no hop list; it follows the records and removes them. This is
 * the table of those records at one DPU: open addressing with linear probing
 * and backward-shift deletion, grown by doubling up to a fixed maximum.
 */
#ifndef ARIADNE_CORE_CRUMB_H
#define ARIADNE_CORE_CRUMB_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"

typedef struct crumb crumb_t;

/* ARI_EINVAL for a zero maximum, ARI_ENOMEM. Memory grows on first use. */
int crumb_create(uint32_t max, crumb_t **crumb_out);
void crumb_destroy(crumb_t *crumb);

/* Records (or overwrites) the port toward a waiter. ARI_EBUSY when `max`
 * records are held, ARI_ENOMEM. */
int crumb_set(crumb_t *crumb, ari_gva_t page, uint32_t origin, uint8_t port);
/* The port toward a waiter; false if there is no record. */
bool crumb_get(const crumb_t *crumb, ari_gva_t page, uint32_t origin, uint8_t *port_out);
/* Removes a record; false if there was none. */
bool crumb_remove(crumb_t *crumb, ari_gva_t page, uint32_t origin);
/* Removes every record of a page (it was freed). */
void crumb_forget_page(crumb_t *crumb, ari_gva_t page);
uint32_t crumb_count(const crumb_t *crumb);

#endif /* ARIADNE_CORE_CRUMB_H */
