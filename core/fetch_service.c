/* SPDX-License-Identifier: MIT */
/* The services "kld.fetch/1" and "kld.solve/1" (sdk/include/kldload/fetch.h, solve.h). */
#include <string.h>
#include <time.h>

#include <kldload/fetch.h>
#include <kldload/solve.h>

#include "cache.h"
#include "ctx.h"
#include "download.h"
#include "fetch_service.h"
#include "log.h"
#include "lock.h"
#include "solve.h"
#include "stage.h"
#include "verify.h"

/* Move the core's last error message onto the plugin's context. */
static int to_ctx(struct kld_ctx *ctx, int code)
{
	const char *m = err_msg();

	return ctx_error(ctx, code, "%s", m && *m ? m : err_str(code));
}

static const char *plan_value(struct kld_ctx *ctx, const char *key)
{
	const struct plan *p = ctx_plan(ctx);

	return p ? plan_get(p, key) : NULL;
}

static int cancelled_cb(void *arg)
{
	(void)arg;
	return stage_cancelled();
}

void fetch_dl_opts(const struct plan *plan, struct dl_opts *o)
{
	const char *jobs = plan ? plan_get(plan, "jobs") : NULL;
	const char *timeout = plan ? plan_get(plan, "fetch_timeout") : NULL;
	const char *retries = plan ? plan_get(plan, "fetch_retries") : NULL;

	const struct kv *jobs_kv = plan ? plan_find(plan, "jobs") : NULL;

	dl_opts_init(o);
	/* transfers wait on the network, not the CPU: unless asked, use 8 at once */
	o->jobs = 8;
	if (jobs && atoi(jobs) > 0 &&
	    !(jobs_kv && jobs_kv->origin && !strcmp(jobs_kv->origin, "default")))
		o->jobs = atoi(jobs) > 64 ? 64 : atoi(jobs);
	if (timeout && atol(timeout) > 0) {
		o->stall_timeout = atol(timeout);
		o->connect_timeout = o->stall_timeout < 15 ? o->stall_timeout : 15;
	}
	if (retries && atoi(retries) >= 0)
		o->retries = atoi(retries);
	o->cancelled = cancelled_cb;
}

static void ctx_dl_opts(struct kld_ctx *ctx, struct dl_opts *o)
{
	fetch_dl_opts(ctx_plan(ctx), o);
}

static int open_cache(struct kld_ctx *ctx, struct cache *c)
{
	int ret = cache_open(c, plan_value(ctx, "cache_dir"));

	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

/* Items with a hash: through the cache, then linked to dest. */
static int download_cached(struct kld_ctx *ctx, struct kld_fetch_item *items, uint32_t n,
                           const struct dl_opts *o)
{
	struct cache c = {0};
	struct cache_item *ci = xcalloc(n ? n : 1, sizeof(*ci));
	size_t *map = xcalloc(n ? n : 1, sizeof(*map));
	size_t m = 0;
	int ret = open_cache(ctx, &c);

	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		if (!items[i].sha256)
			continue;
		ci[m] = (struct cache_item){
		    .url = items[i].url, .sha256 = items[i].sha256, .size = items[i].length};
		map[m++] = i;
	}
	if (ret == 0 && m)
		ret = cache_fetch(&c, ci, m, o, NULL);
	for (size_t k = 0; k < m; k++) {
		struct kld_fetch_item *it = &items[map[k]];

		it->result = ci[k].result;
		if (ret == 0 && it->dest)
			ret = cache_export(&c, it->sha256, it->dest);
	}
	if (ret < 0 && !ctx->error)
		to_ctx(ctx, ret);
	cache_items_clear(ci, m);
	free(ci);
	free(map);
	cache_release(&c);
	return ret;
}

static int download_plain(struct kld_ctx *ctx, struct kld_fetch_item *items, uint32_t n,
                          const struct dl_opts *o)
{
	struct dl_item *dl = xcalloc(n ? n : 1, sizeof(*dl));
	size_t *map = xcalloc(n ? n : 1, sizeof(*map));
	size_t m = 0;
	int ret;

	for (uint32_t i = 0; i < n; i++) {
		if (items[i].sha256)
			continue;
		if (!items[i].dest) {
			free(dl);
			free(map);
			return ctx_error(ctx, -EINVAL, "%s: no destination and no hash",
			                 items[i].url);
		}
		dl[m] = (struct dl_item){.url = items[i].url,
		                         .dest = items[i].dest,
		                         .size = items[i].length,
		                         .optional = !!(items[i].flags & KLD_FETCH_OPTIONAL)};
		map[m++] = i;
	}
	ret = dl_run(dl, m, o);
	for (size_t k = 0; k < m; k++)
		items[map[k]].result = dl[k].result;
	if (ret < 0)
		to_ctx(ctx, ret);
	dl_items_clear(dl, m);
	free(dl);
	free(map);
	return ret;
}

/*
 * A plugin's array of records: each is arr[0].size bytes long (the plugin's sizeof), which may be
 * smaller than the host's (an older minor) or larger (a newer one). Copy them into the host's
 * layout, zero-filled, so that nothing past what the plugin wrote is read.
 */
static void *records_in(struct kld_ctx *ctx, const void *arr, uint32_t n, size_t host_size,
                        size_t min_size, const char *what)
{
	uint32_t stride = n ? *(const uint32_t *)arr : 0;
	char *local = xcalloc(n ? n : 1, host_size);

	if (n && stride < min_size) {
		free(local);
		ctx_error(ctx, -EINVAL, "%s: records of %u bytes are smaller than ABI 1.0's", what,
		          stride);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *rec = (const char *)arr + (size_t)i * stride;

		if (*(const uint32_t *)rec != stride) {
			free(local);
			ctx_error(ctx, -EINVAL, "%s: record %u has another size than record 0",
			          what, i);
			return NULL;
		}
		memcpy(local + i * host_size, rec, stride < host_size ? stride : host_size);
	}
	return local;
}

/* ABI 1.0's records: what a plugin gives at the least. */
#define FETCH_ITEM_MIN (offsetof(struct kld_fetch_item, reserved) + sizeof(uint32_t))
#define SOLVE_JOB_MIN  (offsetof(struct kld_solve_job, tag) + sizeof(const char *))
#define LOCK_INFO_MIN  (offsetof(struct kld_lock_info, kernel) + sizeof(const char *))

static int f_download(struct kld_ctx *ctx, struct kld_fetch_item *items, uint32_t n)
{
	struct kld_fetch_item *local =
	    records_in(ctx, items, n, sizeof(*local), FETCH_ITEM_MIN, "download()");
	uint32_t stride = n ? items->size : 0;
	struct dl_opts o;
	int ret = 0;

	if (!local)
		return -EINVAL;
	for (uint32_t i = 0; ret == 0 && i < n; i++)
		if (!local[i].url)
			ret = ctx_error(ctx, -EINVAL, "download(): item %u has no URL", i);
	ctx_dl_opts(ctx, &o);
	if (ret == 0)
		ret = download_plain(ctx, local, n, &o);
	if (ret == 0)
		ret = download_cached(ctx, local, n, &o);
	/* Hand each item's result back into the plugin's own record. */
	for (uint32_t i = 0; i < n; i++)
		((struct kld_fetch_item *)((char *)items + (size_t)i * stride))->result =
		    local[i].result;
	free(local);
	return ret;
}

static char **split_keyrings(const char *list)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char **v = xcalloc(strlen(list) + 2, sizeof(char *));
	char *save = NULL;
	size_t n = 0;

	for (char *k = strtok_r(copy, ":", &save); k; k = strtok_r(NULL, ":", &save))
		v[n++] = xstrdup(k);
	return v;
}

static int f_verify_signed(struct kld_ctx *ctx, const char *signed_path, const char *keyrings,
                           const char *out_path)
{
	_cleanup_free_ char *text = NULL;
	char **rings = split_keyrings(keyrings ? keyrings : "");
	size_t len;
	int ret = verify_signed_file(signed_path, (const char *const *)rings,
	                             plan_value(ctx, "verifier"), &text, &len);

	if (ret == 0)
		ret = write_file_atomic(out_path, text, len, 0644);
	strv_free(rings);
	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

static int f_verify_detached(struct kld_ctx *ctx, const char *data_path, const char *sig_path,
                             const char *keyrings)
{
	char **rings = split_keyrings(keyrings ? keyrings : "");
	int ret = verify_detached_file(data_path, sig_path, (const char *const *)rings,
	                               plan_value(ctx, "verifier"));

	strv_free(rings);
	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

/* ---- release files ---- */

struct kld_release {
	struct release rel;
	char *components, *architectures;
};

static char *join(char **v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; f && v && v[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", v[i]);
	if (f)
		fclose(f);
	return buf;
}

static int f_release_open(struct kld_ctx *ctx, const char *path, const char *want,
                          struct kld_release **out)
{
	_cleanup_free_ char *text = NULL;
	struct kld_release *r;
	size_t len;
	int ret = read_file(path, &text, &len);

	if (ret < 0)
		return to_ctx(ctx, ret);
	r = xcalloc(1, sizeof(*r));
	ret = release_parse(text, path, &r->rel);
	if (ret == 0)
		ret = release_check(&r->rel, path, time(NULL), want);
	if (ret < 0) {
		release_clear(&r->rel);
		free(r);
		return to_ctx(ctx, ret);
	}
	r->components = join(r->rel.components);
	r->architectures = join(r->rel.architectures);
	*out = r;
	return 0;
}

static const char *f_release_field(const struct kld_release *r, const char *name)
{
	const struct release *rel = &r->rel;

	if (!strcasecmp(name, "Suite"))
		return rel->suite;
	if (!strcasecmp(name, "Codename"))
		return rel->codename;
	if (!strcasecmp(name, "Version"))
		return rel->version;
	if (!strcasecmp(name, "Date"))
		return rel->date_str;
	if (!strcasecmp(name, "Valid-Until"))
		return rel->valid_until_str;
	if (!strcasecmp(name, "Origin"))
		return rel->origin;
	if (!strcasecmp(name, "Label"))
		return rel->label;
	if (!strcasecmp(name, "Components"))
		return r->components;
	if (!strcasecmp(name, "Architectures"))
		return r->architectures;
	if (!strcasecmp(name, "Acquire-By-Hash"))
		return rel->acquire_by_hash ? "yes" : NULL;
	return NULL;
}

static int f_release_entry(const struct kld_release *r, const char *path, int64_t *length,
                           const char **sha256)
{
	const struct release_file *f = release_find(&r->rel, path);

	if (!f)
		return -ENOENT;
	*length = f->size;
	*sha256 = f->sha256;
	return 0;
}

static void f_release_close(struct kld_release *r)
{
	if (!r)
		return;
	release_clear(&r->rel);
	free(r->components);
	free(r->architectures);
	free(r);
}

int fetch_lock_file(const struct plan *plan, const char *lock_path, const char *tag)
{
	struct lock l = {0};
	struct cache c = {0};
	struct cache_stats st = {0};
	struct dl_opts o;
	int ret = lock_load(lock_path, &l);

	if (ret == 0) {
		double days = lock_age(&l, time(NULL)) / 86400;

		int rebuild = plan && plan_get(plan, "lock");

		/* a rebuild from an old lock says so: its packages may lack security fixes */
		log_msg("fetch", rebuild && days > 90 ? KLD_LOG_WARN : KLD_LOG_INFO,
		        "%s: %s %s of %s, %.0f days old, %zu packages", lock_path,
		        l.release ? l.release : "?", l.version ? l.version : "",
		        l.date_str ? l.date_str : "an unknown date", days, l.n_entries);
		ret = cache_open(&c, plan ? plan_get(plan, "cache_dir") : NULL);
	}
	if (ret == 0) {
		fetch_dl_opts(plan, &o);
		o.what = "packages";
		ret = lock_fetch(&l, tag, &c, &o, &st);
		log_info("fetch",
		         "%llu packages reused from the cache, %llu downloaded (%llu bytes)",
		         (unsigned long long)st.reused, (unsigned long long)st.fetched,
		         (unsigned long long)st.bytes_fetched);
	}
	cache_release(&c);
	lock_clear(&l);
	return ret;
}

static int f_fetch_lock(struct kld_ctx *ctx, const char *lock_path, const char *tag)
{
	int ret = fetch_lock_file(ctx_plan(ctx), lock_path, tag);

	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

const struct kld_fetch fetch_service = {
    .size = sizeof(struct kld_fetch),
    .download = f_download,
    .verify_signed = f_verify_signed,
    .release_open = f_release_open,
    .release_field = f_release_field,
    .release_entry = f_release_entry,
    .release_close = f_release_close,
    .fetch_lock = f_fetch_lock,
    .verify_detached = f_verify_detached,
};

/* ---- kld.solve/1 ---- */

static struct kld_solver *s_create(struct kld_ctx *ctx, const char *arch)
{
	struct solver *s = NULL;
	int ret = solve_new(arch ? arch : "amd64", &s);

	if (ret < 0) {
		to_ctx(ctx, ret);
		return NULL;
	}
	return (struct kld_solver *)s;
}

static void s_destroy(struct kld_ctx *ctx, struct kld_solver *s)
{
	(void)ctx;
	solve_free((struct solver *)s);
}

static int s_add_debian(struct kld_ctx *ctx, struct kld_solver *s, const char *repo,
                        const char *base_url, const char *suite, const char *date,
                        const char *index_path)
{
	int ret = solve_add_debian((struct solver *)s, repo, base_url, suite, date, index_path);

	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

static int s_newest(struct kld_ctx *ctx, struct kld_solver *s, const char *pattern,
                    int (*accept)(const char *, void *), void *arg, char **name, char **version)
{
	int ret = solve_newest((struct solver *)s, pattern, accept, arg, name, version);

	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

static char **s_names_by_priority(struct kld_ctx *ctx, struct kld_solver *s, const char *prio)
{
	(void)ctx;
	return solve_names_by_priority((struct solver *)s, prio);
}

static char *s_depends_of(struct kld_ctx *ctx, struct kld_solver *s, const char *name)
{
	(void)ctx;
	return solve_depends_of((struct solver *)s, name);
}

static int s_solve(struct kld_ctx *ctx, struct kld_solver *s, const char *purpose,
                   const struct kld_solve_job *jobs, uint32_t n, uint32_t flags)
{
	struct kld_solve_job *local =
	    records_in(ctx, jobs, n, sizeof(*local), SOLVE_JOB_MIN, "solve()");
	struct solve_job *j;
	int ret;

	if (!local)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (!local[i].dep) {
			free(local);
			return ctx_error(ctx, -EINVAL, "solve(): job %u has no dependency", i);
		}
	}
	j = xcalloc(n ? n : 1, sizeof(*j));
	for (uint32_t i = 0; i < n; i++)
		j[i] = (struct solve_job){local[i].dep, local[i].flags, local[i].tag};
	ret = solve_run((struct solver *)s, purpose, j, n,
	                flags & KLD_SOLVE_RECOMMENDS ? SOLVE_RECOMMENDS : 0);
	free(j);
	free(local);
	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

static int s_write_lock(struct kld_ctx *ctx, struct kld_solver *s, const struct kld_lock_info *info,
                        const char *path)
{
	struct lock l = {0};
	int ret;

	if (!info || info->size < LOCK_INFO_MIN)
		return ctx_error(ctx, -EINVAL, "write_lock(): no lock information");
	l.distro = xstrdup(info->distro);
	l.release = xstrdup(info->release);
	l.version = info->version ? xstrdup(info->version) : NULL;
	l.date_str = info->date ? xstrdup(info->date) : NULL;
	l.arch = xstrdup(info->arch);
	l.kernel = info->kernel ? xstrdup(info->kernel) : NULL;
	ret = solve_to_lock((struct solver *)s, &l);
	if (ret == 0)
		ret = lock_write(&l, path);
	lock_clear(&l);
	return ret < 0 ? to_ctx(ctx, ret) : 0;
}

const struct kld_solve solve_service = {
    .size = sizeof(struct kld_solve),
    .create = s_create,
    .destroy = s_destroy,
    .add_debian = s_add_debian,
    .newest = s_newest,
    .names_by_priority = s_names_by_priority,
    .depends_of = s_depends_of,
    .solve = s_solve,
    .write_lock = s_write_lock,
};
