/* SPDX-License-Identifier: MIT */
/*
 * Dependency resolution with libsolv. Verified Debian Packages indexes are loaded with
 * libsolvext's Debian reader (Depends, Pre-Depends, Provides, alternatives, version constraints,
 * Conflicts and Breaks, Replaces), then one or more solves select packages for purposes (lock
 * tags, see lock.h). Each solve is a fresh installation from nothing (no installed system), so
 * "image" and "build:<kernel>" are each closed on their own. The union of all solves becomes the
 * lock.
 */
#ifndef KLDLOAD_CORE_SOLVE_H
#define KLDLOAD_CORE_SOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "lock.h"

struct solver;

int solve_new(const char *arch, struct solver **out);
void solve_free(struct solver *s);

/*
 * Load one verified Packages index (plain, .gz or .xz). `repo` names it in the lock (a
 * lock_repo name), `base_url` is what its Filename: fields are relative to. Indexes loaded
 * later do not shadow earlier ones: the solver picks the best version across all of them.
 */
int solve_add_debian(struct solver *s, const char *repo, const char *base_url, const char *suite,
                     const char *date, const char *index_path);

/*
 * The newest package (by Debian version order) whose name matches the fnmatch(3) `pattern` and
 * that `accept` (may be NULL) accepts. *name and *version malloc'd. -ENOENT when none.
 */
int solve_newest(struct solver *s, const char *pattern, int (*accept)(const char *name, void *arg),
                 void *arg, char **name, char **version);

/* Names of the packages with Priority `priority` (e.g. "required"), NULL-terminated, malloc'd. */
char **solve_names_by_priority(struct solver *s, const char *priority);

/* The Depends of the best candidate named `name` as written (malloc'd), or NULL. */
char *solve_depends_of(struct solver *s, const char *name);

#define SOLVE_WEAK 1u /* drop this job (with a warning) rather than fail the solve */

struct solve_job {
	const char *dep; /* Debian syntax: "name", "name (>= 1.2)", "a | b" */
	uint32_t flags;  /* SOLVE_* */
	const char *tag; /* extra tag for the package that satisfies this job, or NULL */
};

#define SOLVE_RECOMMENDS 1u /* also install Recommends, as apt does by default */

/*
 * Solve for `jobs` from an empty system and tag every package of the result with `purpose`.
 * When the request cannot be satisfied: -KLD_E_UNSAT and a message in apt's words, one problem
 * per line ("zfs-dkms : Depends: dkms (>= 99) but it is not installable").
 */
int solve_run(struct solver *s, const char *purpose, const struct solve_job *jobs, size_t n,
              uint32_t flags);

/* Number of packages selected so far (the union of all solves). */
size_t solve_selected(const struct solver *s);

/* Fill lock->entries (and lock->repos) with everything selected; other fields untouched. */
int solve_to_lock(struct solver *s, struct lock *lock);

#endif
