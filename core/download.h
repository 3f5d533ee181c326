/* SPDX-License-Identifier: MIT */
/*
 * Downloads through libcurl's multi interface: up to `jobs` transfers at once over reused
 * connections (HTTP, HTTPS, file://), retries with exponential backoff on transient failures
 * (connection errors, timeouts, short transfers, HTTP 408/429/5xx), resume of a partial file left
 * by an earlier attempt or run, a stall timeout for a server that never answers, and a progress
 * line on a terminal.
 *
 * Each item is written to "<dest>.part" and renamed to `dest` only once its size and SHA-256
 * (when given) match; a file that does not match is deleted, never kept. The ".part" file is
 * flock()ed while a transfer writes it, so two processes never write the same partial file: the
 * second one waits and then finds the finished file (see cache.h).
 */
#ifndef KLDLOAD_CORE_DOWNLOAD_H
#define KLDLOAD_CORE_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

struct dl_item {
	const char *url;    /* in */
	const char *dest;   /* in: final path; its directory must exist */
	int64_t size;       /* in: expected size in bytes, or -1 when unknown */
	const char *sha256; /* in: expected SHA-256 (64 hex digits), or NULL */
	int optional;       /* in: a missing file (HTTP 404/410, no such file) is not an error */
	int result;         /* out: 0, -ENOENT (missing), -KLD_E_VERIFY, -ETIMEDOUT, ... */
	char *error;        /* out: malloc'd one-line message when result < 0; dl_items_clear() */
	int64_t bytes;      /* out: bytes transferred over the wire by this run */
};

struct dl_opts {
	int jobs;                    /* parallel transfers (>= 1) */
	int retries;                 /* further attempts after a transient failure */
	long connect_timeout;        /* seconds to establish a connection */
	long stall_timeout;          /* seconds without one byte received before an attempt fails */
	long backoff_ms;             /* first retry delay; doubles at each attempt */
	const char *what;            /* progress label, e.g. "downloading" */
	int (*cancelled)(void *arg); /* polled; non-zero stops everything with -KLD_E_CANCELLED */
	void *cancel_arg;
};

/* Defaults: jobs 4, retries 4, connect 15 s, stall 30 s, backoff 500 ms. */
void dl_opts_init(struct dl_opts *opts);

/*
 * Download every item. Returns 0 when every non-optional item succeeded, else the first failing
 * item's code with its message attached by err_set(); each item's own result says what happened
 * to it. Items that are already complete at `dest` are not checked here: callers decide (the
 * cache re-verifies what it reuses).
 */
int dl_run(struct dl_item *items, size_t n, const struct dl_opts *opts);

/* Free the messages dl_run() attached to items. */
void dl_items_clear(struct dl_item *items, size_t n);

/* The "scheme://host" part of a URL, for messages; malloc'd. */
char *dl_url_origin(const char *url);

#endif
