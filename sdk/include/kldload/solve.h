/* SPDX-License-Identifier: MIT */
/*
 * kldload service "kld.solve/1": dependency resolution with libsolv, and the lock file.
 *
 *   const struct kld_solve *s = host->service(ctx, KLD_SOLVE_SERVICE);
 *
 * A solver holds verified package indexes. Each solve() is a fresh installation from nothing
 * that tags every package of its result with a purpose (lock tags, see docs/lock-format.md:
 * "image", "build:<kernel-release>", ...); write_lock() writes the union. Errors as in fetch.h:
 * 0 or a negative code with a message attached to ctx. Single-threaded.
 */
#ifndef KLDLOAD_SOLVE_H
#define KLDLOAD_SOLVE_H

#include <stdint.h>
#include <kldload/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KLD_SOLVE_SERVICE "kld.solve/1"

struct kld_solver; /* opaque, owned by the caller until destroy() */

/* kld_solve_job.flags (uint32_t). Append only. */
#define KLD_SOLVE_WEAK 1u /* may be left out (with a log line) when it cannot be installed */

struct kld_solve_job {
	uint32_t size;   /* sizeof(struct kld_solve_job) as the plugin was built */
	uint32_t flags;  /* KLD_SOLVE_* */
	const char *dep; /* the distribution's syntax, e.g. "zfs-dkms", "a (>= 1.0) | b" */
	const char *tag; /* extra tag for the package that satisfies this job, or NULL */
};

/* solve() flags (uint32_t). Append only. */
#define KLD_SOLVE_RECOMMENDS 1u /* install Recommends too (what apt does by default) */

struct kld_lock_info {
	uint32_t size; /* sizeof(struct kld_lock_info) as the plugin was built */
	uint32_t reserved;
	const char *distro;  /* e.g. "debian" */
	const char *release; /* codename, e.g. "trixie" */
	const char *version; /* e.g. "13.8", or NULL */
	const char *date;    /* the release file's Date, as written */
	const char *arch;
	const char *kernel; /* kernel release, e.g. "6.12.117+deb13-amd64", or NULL */
};

struct kld_solve {
	uint32_t size; /* sizeof(struct kld_solve) in the host */
	uint32_t reserved;

	/* A new, empty solver for `arch`; NULL on failure (message on ctx). */
	struct kld_solver *(*create)(struct kld_ctx *ctx, const char *arch);
	void (*destroy)(struct kld_ctx *ctx, struct kld_solver *solver);

	/*
	 * Load a verified Debian Packages index (plain, .gz or .xz). `repo` names it in the lock,
	 * `base_url` is what its Filename fields are relative to, `suite` and `date` are recorded
	 * beside it.
	 */
	int (*add_debian)(struct kld_ctx *ctx, struct kld_solver *solver, const char *repo,
	                  const char *base_url, const char *suite, const char *date,
	                  const char *index_path);

	/*
	 * The newest package whose name matches the fnmatch(3) `pattern` and that `accept` (may
	 * be NULL) accepts. *name and *version are freed with host->free(). -ENOENT when none.
	 */
	int (*newest)(struct kld_ctx *ctx, struct kld_solver *solver, const char *pattern,
	              int (*accept)(const char *name, void *arg), void *arg, char **name,
	              char **version);

	/*
	 * Names of the packages with Priority `priority`: a NULL-terminated array; the array and
	 * each string are freed with host->free(). NULL on failure.
	 */
	char **(*names_by_priority)(struct kld_ctx *ctx, struct kld_solver *solver,
	                            const char *priority);

	/* The Depends of the newest package `name`, as text (host->free()), or NULL. */
	char *(*depends_of)(struct kld_ctx *ctx, struct kld_solver *solver, const char *name);

	/*
	 * Solve for `jobs` and tag the result with `purpose`. Unsatisfiable: -KLD_E_UNSAT and a
	 * message in the distribution's own words (as apt says it). `jobs` holds n_jobs records of
	 * jobs[0].size bytes each (every record of a call has the same size).
	 */
	int (*solve)(struct kld_ctx *ctx, struct kld_solver *solver, const char *purpose,
	             const struct kld_solve_job *jobs, uint32_t n_jobs, uint32_t flags);

	/* Write the union of all solves as a lock file (atomically). */
	int (*write_lock)(struct kld_ctx *ctx, struct kld_solver *solver,
	                  const struct kld_lock_info *info, const char *path);
};

#ifdef __cplusplus
}
#endif

#endif /* KLDLOAD_SOLVE_H */
