/* smartcart sweep-objects: finds the R2 objects no row owns any more (left
 * by a crash between a PUT and its row's commit, or between a row's delete
 * and its objects' DELETEs, or by a dead-lettered job whose asset was then
 * deleted) and removes them. What owns a key is decided by Postgres; see
 * object_sweep.c and docs/operations.md "Orphaned objects". */
#ifndef SC_OBJECT_SWEEP_H
#define SC_OBJECT_SWEEP_H

#include <stdio.h>

#include "error.h"

/* What one sweep saw and did; each listed object lands in exactly one of
 * young, foreign, owned and orphans. */
struct object_sweep_counts {
    long long listed;  /* objects under the swept prefixes */
    long long young;   /* not older than OBJECT_SWEEP_GRACE_S: not judged */
    long long foreign; /* not a key shape the store writes: never touched */
    long long owned;   /* a row owns it */
    long long orphans; /* no row owns it: removed, or would be on a dry run */
    long long removed;
    long long failed; /* orphans whose DELETE failed */
};

/* Lists every object under the prefixes the store writes (staging/, media/,
 * images/products/, images/banners/, models/), 1000 at a time, and deletes
 * each one older than OBJECT_SWEEP_GRACE_S that no row owns; with dry_run
 * it deletes nothing. Writes one JSON line per orphan to
 * report: {"key", "size", "last_modified", "removed"} (+ "error" when its
 * DELETE failed). Needs s3_init() and db_pool_init(). Fills *counts even on
 * error. SC_OK when every page was listed and judged and every orphan
 * removed; a failed listing or ownership query stops the sweep at once (it
 * never deletes what it could not judge), a failed DELETE is counted and the
 * sweep goes on; the first error is returned. */
sc_code object_sweep_run(int dry_run, FILE *report, struct object_sweep_counts *counts);

#endif
