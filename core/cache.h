/* SPDX-License-Identifier: MIT */
/*
 * The content-addressed download cache: every file is stored under its SHA-256, in
 * <cache_dir>/sha256/<first two hex digits>/<64 hex digits>, where cache_dir is the plan's
 * "cache_dir" or $XDG_CACHE_HOME/kldload (~/.cache/kldload).
 *
 * An entry appears only by rename() after its size and hash were checked, so an interrupted run
 * never leaves a corrupt entry (at most a "<entry>.part" that a later run resumes). Every reuse
 * checks the hash again, and a damaged entry is deleted and fetched anew. Several kldload
 * processes can share one cache: partial files are flock()ed, entries are immutable.
 */
#ifndef KLDLOAD_CORE_CACHE_H
#define KLDLOAD_CORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "download.h"

struct cache {
	char *dir;
};

/* Open (and create) the cache at `dir`, or at the XDG default when dir is NULL or empty. */
int cache_open(struct cache *c, const char *dir);
void cache_release(struct cache *c);

/* Where the entry for `sha256` lives (whether or not it exists); malloc'd. */
char *cache_entry_path(const struct cache *c, const char *sha256);

/*
 * 1 when the entry exists and its size (unless size < 0) and hash match, 0 when it does not
 * exist. A damaged entry is deleted and 0 returned. Negative on I/O errors.
 */
int cache_check(const struct cache *c, const char *sha256, int64_t size);

struct cache_item {
	const char *url;    /* in: where to get it */
	const char *sha256; /* in: required */
	int64_t size;       /* in: expected size or -1 */
	int result;         /* out: 0 or a negative code */
	int reused;         /* out: 1 when the cache already had it */
	char *path;         /* out: malloc'd entry path on success; cache_items_clear() */
};

struct cache_stats {
	uint64_t reused, fetched; /* entries */
	uint64_t bytes_reused, bytes_fetched;
};

/*
 * Make sure every item is in the cache, verified: reuse what is there (checked again), download
 * the rest in parallel (opts). Returns 0, or the first failure with its message (err_set()).
 */
int cache_fetch(const struct cache *c, struct cache_item *items, size_t n,
                const struct dl_opts *opts, struct cache_stats *stats);
void cache_items_clear(struct cache_item *items, size_t n);

/* Hard-link (or copy when linking fails) a verified entry to `dest`, atomically. */
int cache_export(const struct cache *c, const char *sha256, const char *dest);

#endif
