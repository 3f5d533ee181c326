/* SPDX-License-Identifier: MIT */
/* The host table: what plugins may call of the core. */
#include <stddef.h>
#include <string.h>

#include "ctx.h"
#include "log.h"
#include "runner.h"
#include "service.h"
#include "util.h"

struct loaded_plugin *runner_plugin_of(struct kld_ctx *ctx)
{
	if (!ctx || !ctx->desc)
		return NULL;
	return (struct loaded_plugin *)((char *)ctx - offsetof(struct loaded_plugin, ctx));
}

static void host_logv(struct kld_ctx *ctx, uint32_t level, const char *fmt, va_list ap)
{
	log_msgv(ctx ? ctx->name : NULL, level, fmt, ap);
}

void ctx_log(struct kld_ctx *ctx, uint32_t level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_logv(ctx, level, fmt, ap);
	va_end(ap);
}

static int ctx_errorv(struct kld_ctx *ctx, int code, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (ctx) {
		free(ctx->error);
		ctx->error = msg;
		ctx->error_code = code;
	} else {
		err_set(code, "%s", msg ? msg : "");
		free(msg);
	}
	return code;
}

int ctx_error(struct kld_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx_errorv(ctx, code, fmt, ap);
	va_end(ap);
	return code;
}

const struct plan *ctx_plan(struct kld_ctx *ctx)
{
	return ctx && ctx->run ? &ctx->run->plan : NULL;
}

static void h_log(struct kld_ctx *ctx, uint32_t level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_logv(ctx, level, fmt, ap);
	va_end(ap);
}

static int h_error(struct kld_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx_errorv(ctx, code, fmt, ap);
	va_end(ap);
	return code;
}

static void *h_alloc(uint64_t size)
{
	if (size > SIZE_MAX)
		return NULL;
	return calloc(1, size ? (size_t)size : 1);
}

static void *h_realloc(void *ptr, uint64_t size)
{
	if (size > SIZE_MAX)
		return NULL;
	return realloc(ptr, size ? (size_t)size : 1);
}

static void h_free(void *ptr)
{
	free(ptr);
}

static char *h_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *h_plan(struct kld_ctx *ctx, const char *key)
{
	const struct plan *plan = ctx_plan(ctx);

	if (!plan || !key)
		return NULL;
	if (strcmp(key, "stage") == 0)
		return ctx->run->stage >= 0 ? stage_name((enum stage_id)ctx->run->stage) : NULL;
	if (strchr(key, '.'))
		return NULL; /* plugin options are read with option() */
	return plan_get(plan, key);
}

static const char *h_option(struct kld_ctx *ctx, const char *key)
{
	struct loaded_plugin *p = runner_plugin_of(ctx);
	const struct plan *plan = ctx_plan(ctx);
	_cleanup_free_ char *full = NULL;

	if (!p || !key)
		return NULL;
	if (strcmp(key, "arg") == 0 && p->arg)
		return p->arg;
	if (!plan)
		return NULL;
	full = xasprintf("%s.%s", p->desc.name, key);
	return plan_get(plan, full);
}

static int h_option_next(struct kld_ctx *ctx, uint32_t *iter, const char **key, const char **value)
{
	struct loaded_plugin *p = runner_plugin_of(ctx);
	const struct plan *plan = ctx_plan(ctx);
	size_t len;

	if (!p || !plan || !iter)
		return 0;
	len = strlen(p->desc.name);
	while (*iter < plan->n_items) {
		const struct kv *kv = &plan->items[(*iter)++];
		if (strncmp(kv->key, p->desc.name, len) == 0 && kv->key[len] == '.') {
			*key = kv->key + len + 1;
			*value = kv->value;
			return 1;
		}
	}
	return 0;
}

static const char *h_stage_dir(struct kld_ctx *ctx, const char *stage)
{
	struct runner *run = ctx ? ctx->run : NULL;
	int id;

	if (!run)
		return NULL;
	if (!stage)
		return run->stage_tmp;
	id = stage_by_name(stage);
	if (id < 0 || !is_dir(run->stage_paths[id]))
		return NULL;
	return run->stage_paths[id];
}

static int h_cancelled(struct kld_ctx *ctx)
{
	(void)ctx;
	return stage_cancelled();
}

static void h_progress(struct kld_ctx *ctx, uint64_t done, uint64_t total, const char *what)
{
	(void)ctx;
	progress_show(what ? what : "working", done, total);
}

static const void *h_service(struct kld_ctx *ctx, const char *name)
{
	(void)ctx;
	return name ? service_lookup(name) : NULL;
}

static int h_need(struct kld_ctx *ctx, uint32_t kind, const char *package)
{
	struct runner *run = ctx ? ctx->run : NULL;
	struct kld_need *need;

	if (!run || run->declaring != ctx)
		return ctx_error(ctx, -EPERM, "need() may only be called from declare()");
	if (!package || !*package || kind < KLD_NEED_SOURCE || kind > KLD_NEED_SOURCE_URL)
		return ctx_error(ctx, -EINVAL, "need(): bad kind %u or empty package", kind);
	need = xcalloc(1, sizeof(*need));
	need->size = sizeof(*need);
	need->kind = kind;
	need->module = xstrdup(ctx->name);
	need->package = xstrdup(package);
	run->needs = realloc(run->needs, (run->n_needs + 1) * sizeof(*run->needs));
	if (!run->needs)
		abort();
	run->needs[run->n_needs++] = need;
	return 0;
}

int host_declare(struct runner *run, struct loaded_plugin *m, const char *kernel,
                 struct kld_ctx *caller)
{
	int r;

	if (m->desc.kind != KLD_KIND_MODULE || !m->ops.module.declare)
		return 0;
	run->declaring = &m->ctx;
	r = m->ops.module.declare(&m->ctx, m->ctx.state, kernel);
	run->declaring = NULL;
	if (r < 0)
		return ctx_error(caller, r, "module %s: %s", m->instance,
		                 m->ctx.error ? m->ctx.error : err_str(r));
	return 0;
}

static const struct kld_need *const *h_module_needs(struct kld_ctx *ctx, const char *kernel)
{
	struct runner *run = ctx ? ctx->run : NULL;
	size_t first;
	struct kld_need **arr;

	if (!run || !kernel)
		return NULL;
	first = run->n_needs;
	for (size_t i = 0; i < run->n_plugins; i++)
		if (host_declare(run, run->plugins[i], kernel, ctx) < 0)
			return NULL;
	arr = xcalloc(run->n_needs - first + 1, sizeof(*arr));
	if (run->n_needs > first)
		memcpy(arr, run->needs + first, (run->n_needs - first) * sizeof(*arr));
	run->need_arrays = realloc(run->need_arrays, (run->n_need_arrays + 1) * sizeof(*arr));
	if (!run->need_arrays)
		abort();
	run->need_arrays[run->n_need_arrays++] = arr;
	return (const struct kld_need *const *)arr;
}

#define LABEL_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

static int h_publish(struct kld_ctx *ctx, const char *label, const char *path)
{
	struct runner *run = ctx ? ctx->run : NULL;
	struct publication *pub;

	if (!run || run->stage < 0)
		return ctx_error(ctx, -EPERM, "publish() may only be called while a stage runs");
	if (!label || !*label || strspn(label, LABEL_CHARS) != strlen(label))
		return ctx_error(
		    ctx, -EINVAL,
		    "publish(): label '%s' may only hold letters, digits, '-', '_' and '.'",
		    label ? label : "(null)");
	if (!path || !*path || path[0] == '/' || strstr(path, "..") || strchr(path, '\n'))
		return ctx_error(ctx, -EINVAL,
		                 "publish(): '%s' must be a path inside the stage's output",
		                 path ? path : "(null)");
	run->pubs = realloc(run->pubs, (run->n_pubs + 1) * sizeof(*run->pubs));
	if (!run->pubs)
		abort();
	pub = &run->pubs[run->n_pubs++];
	pub->label = xstrdup(label);
	pub->path = xstrdup(path);
	return 0;
}

const struct kld_host core_host = {
    .size = sizeof(struct kld_host),
    .abi_major = KLD_ABI_MAJOR,
    .abi_minor = KLD_ABI_MINOR,
    .version = KLDLOAD_VERSION,
    .log = h_log,
    .error = h_error,
    .alloc = h_alloc,
    .realloc = h_realloc,
    .free = h_free,
    .strdup = h_strdup,
    .plan = h_plan,
    .option = h_option,
    .option_next = h_option_next,
    .stage_dir = h_stage_dir,
    .cancelled = h_cancelled,
    .progress = h_progress,
    .service = h_service,
    .need = h_need,
    .module_needs = h_module_needs,
    .publish = h_publish,
};
