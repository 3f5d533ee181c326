/* SPDX-License-Identifier: MIT */
/*
 * The lock file (kldload.lock): the exact package set of a build, enough to rebuild it without
 * resolving again. Written by the resolve stage into <work>/resolve/kldload.lock (the runner
 * copies it beside the output); read by every later stage through lock_load(). The format is
 * documented in docs/lock-format.md:
 *
 *   kldload-lock 1
 *   distro: debian
 *   release: trixie 13.8
 *   date: Sat, 21 Nov 2026 09:15:44 UTC
 *   arch: amd64
 *   kernel: 6.12.117+deb13-amd64
 *   repo: trixie <base-url> trixie Sat, 21 Nov 2026 09:15:44 UTC
 *   <blank line>
 *   <name> <version> <arch> <repo> <path> <size> <sha256> <tag>[,<tag>...]
 *
 * Package lines are sorted by name, version, architecture. Tags say what a package is locked
 * for (see LOCK_TAG_*): a later stage selects its packages by tag.
 */
#ifndef KLDLOAD_CORE_LOCK_H
#define KLDLOAD_CORE_LOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cache.h"
#include "util.h"

#define LOCK_FORMAT    1
#define LOCK_FILE_NAME "kldload.lock"

/* Tags. "image": carried by the installer image (its offline repository). */
#define LOCK_TAG_IMAGE "image"
/* "kernel": the kernel image package itself (also tagged image). */
#define LOCK_TAG_KERNEL "kernel"
/* "build:<kernel-release>": the build root for that kernel (headers, kbuild, compiler, libc, the
 * modules' build and source needs, with their whole dependency closure and priority required). */
#define LOCK_TAG_BUILD_PREFIX "build:"
/* "headers:<kernel-release>": the kernel's own headers, -common and kbuild packages. */
#define LOCK_TAG_HEADERS_PREFIX "headers:"
/* "source:<module>" and "runtime:<module>": the packages a recipe declared (KLD_NEED_SOURCE,
 * KLD_NEED_RUNTIME), themselves only; their closures are in build:<k> and image. */
#define LOCK_TAG_SOURCE_PREFIX  "source:"
#define LOCK_TAG_RUNTIME_PREFIX "runtime:"
/* "build-need:<module>": a recipe's KLD_NEED_BUILD packages, themselves only. */
#define LOCK_TAG_BUILD_NEED_PREFIX "build-need:"

struct lock_repo {
	char *name;  /* short name used by package lines, e.g. "trixie" or "trixie-security" */
	char *url;   /* base URL the package paths are relative to */
	char *suite; /* dists/<suite> */
	char *date;  /* that suite's Release Date, as written */
};

struct lock_entry {
	char *name, *version, *arch;
	char *repo; /* a lock_repo name */
	char *path; /* relative to the repo's URL, e.g. pool/main/a/apt/apt_2.6.1_amd64.deb */
	int64_t size;
	char sha256[SHA256_HEX_LEN];
	char *tags; /* comma-separated, sorted */
};

struct lock {
	char *distro, *release, *version, *arch, *kernel;
	char *date_str; /* the release's Date as written in its Release file */
	time_t date;
	struct lock_repo *repos;
	size_t n_repos;
	struct lock_entry *entries;
	size_t n_entries;
};

/* Load and check a lock file; on error a message names the file and line. */
int lock_load(const char *path, struct lock *lock);
/* Write atomically; entries are sorted first. */
int lock_write(struct lock *lock, const char *path);
void lock_clear(struct lock *lock);

/* Sort entries by name, version, arch (the file's order). */
void lock_sort(struct lock *lock);

const struct lock_repo *lock_repo_find(const struct lock *lock, const char *name);
const struct lock_entry *lock_find(const struct lock *lock, const char *name);
/* 1 when `e` carries `tag` exactly. */
int lock_entry_has_tag(const struct lock_entry *e, const char *tag);
/* Full URL of an entry; malloc'd, NULL when its repo is unknown. */
char *lock_entry_url(const struct lock *lock, const struct lock_entry *e);
/* The entry's file in the cache (verified by lock_fetch() or cache_check()); malloc'd. */
char *lock_entry_path(const struct cache *cache, const struct lock_entry *e);
/* Seconds between the lock's release Date and `now`, for "this lock is N days old". */
double lock_age(const struct lock *lock, time_t now);

/*
 * Make every entry (or every entry carrying `tag`, when tag is not NULL) present and verified in
 * the cache, downloading what is missing.
 */
int lock_fetch(const struct lock *lock, const char *tag, const struct cache *cache,
               const struct dl_opts *opts, struct cache_stats *stats);

#endif
