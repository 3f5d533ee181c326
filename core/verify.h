/* SPDX-License-Identifier: MIT */
/*
 * The chain of trust of a Debian-style archive, first link to last:
 *   1. InRelease: its OpenPGP signature is checked by the distribution's own verifier (sqv, or
 *      gpgv) against the archive keyring; only the bytes that verifier checked are parsed.
 *   2. The Release text: Valid-Until (when present) must not have passed, Date must not lie in
 *      the future, Suite or Codename must be the one that was asked for.
 *   3. Each index (Packages.xz, .gz, ...) must have the size and SHA-256 the Release lists.
 *   4. Each package must have the size and SHA-256 its index entry lists (see solve.h, lock.h).
 */
#ifndef KLDLOAD_CORE_VERIFY_H
#define KLDLOAD_CORE_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

/*
 * Split an OpenPGP cleartext-signed message (InRelease) into the signed text (dash-escaping
 * undone, without the line break that precedes the signature) and the armored signature.
 * Anything outside the one signed block is refused. Both malloc'd on success.
 */
int verify_split_cleartext(const char *data, size_t len, const char *name, char **text,
                           size_t *text_len, char **sig, size_t *sig_len);

/*
 * Check that `signed_path` (an InRelease file) carries a good signature by a key of one of the
 * `keyrings` (NULL-terminated list of files), with `verifier` ("sqv", "gpgv", or NULL/"auto":
 * sqv when installed, else gpgv). On success *text is the verified text (malloc'd). On failure
 * -KLD_E_VERIFY with a message naming the file, the keyring(s) and what the verifier said.
 */
int verify_signed_file(const char *signed_path, const char *const *keyrings, const char *verifier,
                       char **text, size_t *text_len);

/*
 * The same check for a file and its detached signature (Release and Release.gpg, for archives
 * that publish no InRelease). The data file is the one to parse afterwards.
 */
int verify_detached_file(const char *data_path, const char *sig_path, const char *const *keyrings,
                         const char *verifier);

struct release_file {
	char *path; /* relative to dists/<suite>/, e.g. "main/binary-amd64/Packages.xz" */
	int64_t size;
	char sha256[SHA256_HEX_LEN];
};

struct release {
	char *origin, *label, *suite, *codename, *version;
	char *date_str, *valid_until_str;   /* as written, NULL when absent */
	time_t date, valid_until;           /* 0 when absent */
	char **components, **architectures; /* NULL-terminated, malloc'd */
	int acquire_by_hash;
	struct release_file *files;
	size_t n_files;
};

/* Parse a verified Release text. `name` is used in messages (e.g. the URL). */
int release_parse(const char *text, const char *name, struct release *rel);
void release_clear(struct release *rel);

/*
 * Honour the Release's dates at time `now`: Valid-Until passed -> -KLD_E_VERIFY "expired";
 * Date more than 10 minutes ahead -> -KLD_E_VERIFY. `want` (suite or codename asked for, or
 * NULL) must equal Suite or Codename.
 */
int release_check(const struct release *rel, const char *name, time_t now, const char *want);

/* The SHA256 entry for `path`, or NULL. */
const struct release_file *release_find(const struct release *rel, const char *path);

/* RFC 2822 date as Debian writes it ("Sat, 21 Nov 2026 09:15:44 UTC"); -1 when unparsable. */
time_t release_parse_date(const char *s);

/* Check a file against a size (ignored when < 0) and SHA-256; -KLD_E_VERIFY naming `name`. */
int verify_file(const char *path, int64_t size, const char *sha256, const char *name);

#endif
