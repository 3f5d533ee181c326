/* SPDX-License-Identifier: MIT */
/* Core-internal view of a plugin instance (struct kld_ctx is opaque to plugins). */
#ifndef KLDLOAD_CORE_CTX_H
#define KLDLOAD_CORE_CTX_H

#include <stdint.h>
#include <kldload/kldload.h>
#include "plan.h"

struct runner;

struct kld_ctx {
	const struct kld_plugin *desc; /* checked descriptor, NULL for the core's own context */
	const char *name;              /* log category: plugin name, or a core stage name */
	void *state;                   /* what the plugin's open() returned */
	struct runner *run;            /* the run, for plan, directories and cancellation */
	char *error;                   /* message attached by the last failure, malloc'd */
	int error_code;
};

/* The host table lent to every plugin. */
extern const struct kld_host core_host;

/* Attach a message to ctx's failure, like kld_host.error(). */
int ctx_error(struct kld_ctx *ctx, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
void ctx_log(struct kld_ctx *ctx, uint32_t level, const char *fmt, ...) PRINTF_LIKE(3, 4);
const struct plan *ctx_plan(struct kld_ctx *ctx);

#endif
