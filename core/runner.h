/* SPDX-License-Identifier: MIT */
/* The state of one run of the stages, shared by the stage runner and the host table. */
#ifndef KLDLOAD_CORE_RUNNER_H
#define KLDLOAD_CORE_RUNNER_H

#include <stddef.h>
#include "plan.h"
#include "plugin.h"
#include "stage.h"

struct publication {
	char *label;
	char *path; /* relative to the stage's output directory */
};

struct runner {
	struct plan plan; /* the user's plan with defaults filled in (absolute directories) */
	struct loaded_plugin **plugins; /* [0] is the distro driver */
	size_t n_plugins;
	char *work_dir;
	char *output_dir;
	int stage;                      /* enum stage_id running now, or -1 */
	char *stage_tmp;                /* its temporary output directory */
	char *stage_paths[STAGE_COUNT]; /* <work>/<stage>: where each completed output lives */
	struct kld_ctx core_ctx;

	/* Module needs collected by module_needs(); every array lives until the run ends. */
	struct kld_ctx *declaring;
	struct kld_need **needs;
	size_t n_needs;
	struct kld_need ***need_arrays;
	size_t n_need_arrays;

	struct publication *pubs; /* publications of the stage now running */
	size_t n_pubs;
	char **results; /* "label: path" lines printed at the end */
	size_t n_results;
};

struct loaded_plugin *runner_plugin_of(struct kld_ctx *ctx); /* NULL for the core's own ctx */

/*
 * Call the module recipe m's declare() for `kernel`: what it declares is appended to run->needs.
 * A failure is reported on `caller`'s context, naming the recipe. Not thread-safe.
 */
int host_declare(struct runner *run, struct loaded_plugin *m, const char *kernel,
                 struct kld_ctx *caller);

#endif
