/* SPDX-License-Identifier: MIT */
/*
 * kldload service "kld.fetch/1": downloads, the content-addressed cache, and the chain of trust
 * of a signed repository (OpenPGP-signed release file -> index hashes -> package hashes).
 *
 *   const struct kld_fetch *f = host->service(ctx, KLD_FETCH_SERVICE);
 *
 * Every function takes the calling plugin's ctx first, returns 0 or a negative errno /
 * -KLD_E_* and attaches a one-line message naming the offending file or URL to ctx. Functions
 * may only be called from the thread that called the plugin's operation. Strings passed in are
 * only read during the call.
 */
#ifndef KLDLOAD_FETCH_H
#define KLDLOAD_FETCH_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KLD_FETCH_SERVICE "kld.fetch/1"

/* kld_fetch_item.flags (uint32_t). Append only. */
#define KLD_FETCH_OPTIONAL 1u /* a missing file (HTTP 404/410) sets result -ENOENT, no failure */

struct kld_fetch_item {
	uint32_t size;      /* sizeof(struct kld_fetch_item) as the plugin was built */
	uint32_t flags;     /* KLD_FETCH_* */
	const char *url;    /* http://, https:// or file:// */
	const char *sha256; /* expected SHA-256 (64 hex digits), or NULL when unknown */
	int64_t length;     /* expected size in bytes, or -1 when unknown */
	const char *dest; /* file to create (atomically); NULL: only into the cache (sha256 set) */
	int32_t result;   /* out: 0, -ENOENT (missing, optional), or the failure */
	uint32_t reserved;
};

/* Opaque: a parsed, checked release file; see release_open(). */
struct kld_release;

struct kld_fetch {
	uint32_t size; /* sizeof(struct kld_fetch) in the host */
	uint32_t reserved;

	/*
	 * Download items in parallel (plan "jobs"), with retries, resume and timeouts (plan
	 * "fetch_timeout", seconds without data). An item with sha256 goes through the cache: it is
	 * reused when present (checked again) or downloaded and checked against sha256 and length
	 * before anything is kept; dest then receives a hard link or copy. An item without sha256
	 * is downloaded straight to dest. Returns the first failure; each item's result says what
	 * became of it. `items` holds n_items records of items[0].size bytes each (every record of
	 * a call has the same size), so records may grow in later minors.
	 */
	int (*download)(struct kld_ctx *ctx, struct kld_fetch_item *items, uint32_t n_items);

	/*
	 * Check the OpenPGP signature of a cleartext-signed file (a Debian InRelease) with the
	 * distribution's own verifier (plan "verifier": sqv, gpgv; default: sqv when installed,
	 * else gpgv) against `keyrings` (colon-separated absolute paths). On success the text that
	 * the verifier checked is written to out_path; on failure nothing is written and the result
	 * is -KLD_E_VERIFY.
	 */
	int (*verify_signed)(struct kld_ctx *ctx, const char *signed_path, const char *keyrings,
	                     const char *out_path);

	/*
	 * Parse a verified Debian Release text and check it: Valid-Until not passed, Date not in
	 * the future, Suite or Codename equal to `want` (NULL: not checked). *release is owned by
	 * the caller and freed with release_close().
	 */
	int (*release_open)(struct kld_ctx *ctx, const char *path, const char *want,
	                    struct kld_release **release);

	/*
	 * A field of the release ("Suite", "Codename", "Version", "Date", "Valid-Until",
	 * "Components", "Architectures", "Acquire-By-Hash", "Origin", "Label"), or NULL when absent.
	 * Owned by the release.
	 */
	const char *(*release_field)(const struct kld_release *release, const char *name);

	/*
	 * The SHA256 entry for `path` (relative to dists/<suite>/): 0 and *length, *sha256 (owned
	 * by the release), or -ENOENT.
	 */
	int (*release_entry)(const struct kld_release *release, const char *path, int64_t *length,
	                     const char **sha256);

	void (*release_close)(struct kld_release *release);

	/*
	 * Make every package of the lock file at `lock_path` (only those tagged `tag`, unless NULL)
	 * present in the cache, each checked against the size and SHA-256 in the lock.
	 */
	int (*fetch_lock)(struct kld_ctx *ctx, const char *lock_path, const char *tag);

	/*
	 * Like verify_signed() for a file with a detached signature (a Debian Release and its
	 * Release.gpg, where an archive publishes no InRelease): -KLD_E_VERIFY unless `sig_path`
	 * holds a good signature over `data_path` by a key of `keyrings`. Nothing is written.
	 */
	int (*verify_detached)(struct kld_ctx *ctx, const char *data_path, const char *sig_path,
	                       const char *keyrings);
};

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_FETCH_H */
