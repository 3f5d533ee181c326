/* SPDX-License-Identifier: MIT */
/*
 * The stage runner. Stages run in this order; each writes its output to a temporary directory
 * under the work directory, which is renamed to <work>/<stage> only when the stage succeeds,
 * records the hash of its inputs in <work>/<stage>.stamp and is skipped when that hash is
 * unchanged and its output is still there.
 */
#ifndef KLDLOAD_CORE_STAGE_H
#define KLDLOAD_CORE_STAGE_H

#include <stdint.h>
#include "ctx.h"
#include "plan.h"

enum stage_id {
	STAGE_FETCH,
	STAGE_RESOLVE,
	STAGE_BUILD_MODULES,
	STAGE_SIGN,
	STAGE_ASSEMBLE,
	STAGE_BOOT_CONFIG,
	STAGE_COUNT,
};

const char *stage_name(enum stage_id id);
int stage_by_name(const char *name); /* enum stage_id, or -1 */

/* What a stage implemented by the core itself (not by a plugin) is given. */
struct stage_env {
	const struct plan *plan;
	const char *stage;    /* its name */
	const char *out_dir;  /* temporary output directory; renamed into place on success */
	const char *work_dir; /* the run's work directory */
	struct kld_ctx *ctx;  /* a core context for logging, errors and cancellation */
};
/* Completed output directory of an earlier stage, or NULL. malloc'd. */
char *stage_env_dir(const struct stage_env *env, const char *stage);
int stage_cancelled(void);

/* Stages the core implements; return 0 or a negative code with err_set()/ctx_error(). */
typedef int (*core_stage_fn)(const struct stage_env *env);

struct loaded_plugin;
struct runner_opts {
	const struct plan *plan;
	struct loaded_plugin **plugins; /* the distro driver first, then module recipes */
	size_t n_plugins;
	int first, last; /* stage range, inclusive */
	int force;       /* run even when inputs are unchanged */
};
int runner_run(const struct runner_opts *opts);

#endif
