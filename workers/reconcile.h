/* Payment reconciler: a missed webhook loses no sale. Orders still pending
 * PAYOS_RECONCILE_AFTER_S after checkout are looked up at PayOS: each
 * transfer PayOS lists becomes the payment event its webhook would have
 * been (same message id, so one already applied is skipped), and an order
 * whose link is cancelled, expired or unknown to PayOS is marked failed.
 * Run by a thread of each payment worker (PAYOS_RECONCILE_INTERVAL_S) and by
 * `smartcart reconcile-payments`. Needs the db pool, the Kafka producer,
 * payos_init and (for the status cache) the Redis pool. */
#ifndef SC_RECONCILE_H
#define SC_RECONCILE_H

#include <stddef.h>

#include "error.h"

/* One pass over up to 100 stale pending orders; *checked (may be NULL)
 * gets how many PayOS answered for. */
sc_code reconcile_once(size_t *checked);

/* Starts / stops the periodic thread (a no-op when the interval is 0 or
 * PayOS is not configured). */
sc_code reconcile_thread_start(void);
void reconcile_thread_stop(void);

#endif
