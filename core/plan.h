/* SPDX-License-Identifier: MIT */
/*
 * The plan: every value a build depends on, as key/value strings, merged from the system
 * configuration file, the user's, --config, and the command line (later wins). Plugin options
 * live under "<plugin>.<key>". The plan is immutable once the stages start.
 */
#ifndef KLDLOAD_CORE_PLAN_H
#define KLDLOAD_CORE_PLAN_H

#include <stddef.h>
#include "common.h"
#include "util.h" /* strv_free() */

struct kv {
	char *key;
	char *value;
	char *origin; /* "file:line" or "command line", for messages */
};

struct plan {
	struct kv *items;
	size_t n_items;
};

void plan_release(struct plan *plan);
/* Set key to value (replacing an earlier value); both copied. */
void plan_set(struct plan *plan, const char *key, const char *value, const char *origin);
const char *plan_get(const struct plan *plan, const char *key); /* NULL when unset */
const struct kv *plan_find(const struct plan *plan, const char *key);
/* The modules as a NULL-terminated malloc'd array of malloc'd names (split on commas). */
char **plan_modules(const struct plan *plan);
/* Canonical "key=value\n" text of the plan, sorted by key, for hashing and --dry-run. */
char *plan_format(const struct plan *plan);

/*
 * Options the core knows. Each has a long command-line name (--cache-dir), a plan key
 * (cache_dir), and a config-file name equal to the plan key. Rows are added as stages arrive.
 */
struct option_def {
	const char *long_name; /* command line, without "--" */
	int short_name;        /* 0 when none */
	const char *key;       /* plan key and config-file setting; NULL for actions */
	const char *arg;       /* metavariable for --help, NULL for a flag */
	const char *help;
};
extern const struct option_def core_options[];
extern const size_t n_core_options;
const struct option_def *option_by_key(const char *key);

#endif
