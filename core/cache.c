/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "log.h"
#include "util.h"

#define LOG_CAT "cache"

static int is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

static char *default_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return path_join(xdg, "kldload");
	if (home && home[0])
		return xasprintf("%s/.cache/kldload", home);
	return NULL;
}

int cache_open(struct cache *c, const char *dir)
{
	_cleanup_free_ char *d = dir && dir[0] ? xstrdup(dir) : default_dir();
	_cleanup_free_ char *sub = NULL;
	int ret;

	if (!d)
		return err_set(-KLD_E_CONFIG, "no cache directory: set cache_dir or HOME");
	sub = path_join(d, "sha256");
	ret = mkdir_p(sub, 0755);
	if (ret < 0)
		return ret;
	c->dir = TAKE_PTR(d);
	return 0;
}

void cache_release(struct cache *c)
{
	free(c->dir);
	c->dir = NULL;
}

char *cache_entry_path(const struct cache *c, const char *sha256)
{
	return xasprintf("%s/sha256/%.2s/%s", c->dir, sha256, sha256);
}

int cache_check(const struct cache *c, const char *sha256, int64_t size)
{
	_cleanup_free_ char *path = NULL;
	char got[SHA256_HEX_LEN];
	struct stat st;
	int ret;

	if (!is_sha256_hex(sha256))
		return err_set(-EINVAL, "not a SHA-256: %s", sha256 ? sha256 : "(none)");
	path = cache_entry_path(c, sha256);
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_set(-errno, "%s: %s", path, strerror(errno));
	if (size >= 0 && st.st_size != size)
		goto damaged;
	ret = sha256_file(path, got);
	if (ret < 0)
		return ret;
	if (strcmp(got, sha256) != 0)
		goto damaged;
	return 1;
damaged:
	log_warn(LOG_CAT, "%s is damaged; fetching it again", path);
	unlink(path);
	return 0;
}

/* Parallel re-verification of what the cache already holds. */
struct check_work {
	const struct cache *c;
	struct cache_item *items;
	size_t n;
	atomic_size_t next;
};

static void *check_worker(void *arg)
{
	struct check_work *w = arg;
	size_t i;

	while ((i = atomic_fetch_add(&w->next, 1)) < w->n) {
		struct cache_item *it = &w->items[i];
		int r = cache_check(w->c, it->sha256, it->size);

		it->reused = r == 1;
		it->result = r < 0 ? r : 0;
	}
	return NULL;
}

static void check_all(const struct cache *c, struct cache_item *items, size_t n, int jobs)
{
	struct check_work w = {.c = c, .items = items, .n = n};
	pthread_t th[16];
	int nt = jobs < 1 ? 1 : jobs > 16 ? 16 : jobs;
	int started = 0;

	atomic_init(&w.next, 0);
	for (int i = 1; i < nt; i++)
		if (pthread_create(&th[started], NULL, check_worker, &w) == 0)
			started++;
	check_worker(&w);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

static int prepare_dirs(const struct cache *c, struct cache_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *d = NULL;
		int ret;

		if (items[i].reused)
			continue;
		d = xasprintf("%s/sha256/%.2s", c->dir, items[i].sha256);
		ret = mkdir_p(d, 0755);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int download_missing(const struct cache *c, struct cache_item *items, size_t n,
                            const struct dl_opts *opts, struct cache_stats *st)
{
	_cleanup_free_ struct dl_item *dl = xcalloc(n, sizeof(*dl));
	_cleanup_free_ size_t *map = xcalloc(n, sizeof(*map));
	char **dests = xcalloc(n, sizeof(*dests));
	size_t m = 0;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (items[i].reused)
			continue;
		dests[m] = cache_entry_path(c, items[i].sha256);
		dl[m] = (struct dl_item){.url = items[i].url,
		                         .dest = dests[m],
		                         .size = items[i].size,
		                         .sha256 = items[i].sha256};
		map[m++] = i;
	}
	ret = dl_run(dl, m, opts);
	for (size_t k = 0; k < m; k++) {
		struct cache_item *it = &items[map[k]];

		it->result = dl[k].result;
		if (it->result == 0 && dl[k].bytes == 0 &&
		    cache_check(c, it->sha256, it->size) != 1)
			it->result = err_set(-KLD_E_VERIFY, "%s: another process left a bad copy",
			                     it->url); /* finished by a concurrent run */
		st->fetched++;
		st->bytes_fetched += (uint64_t)(dl[k].bytes > 0 ? dl[k].bytes : 0);
		free(dests[k]);
	}
	dl_items_clear(dl, m);
	free(dests);
	return ret;
}

int cache_fetch(const struct cache *c, struct cache_item *items, size_t n,
                const struct dl_opts *opts, struct cache_stats *stats)
{
	struct cache_stats st = {0};
	int ret;

	for (size_t i = 0; i < n; i++)
		if (!is_sha256_hex(items[i].sha256))
			return err_set(-KLD_E_VERIFY, "%s: no usable SHA-256 to check it against",
			               items[i].url);
	check_all(c, items, n, opts->jobs);
	for (size_t i = 0; i < n; i++) {
		if (items[i].result < 0) /* the worker thread's message stayed in that thread */
			return err_set(items[i].result, "cannot check the cached copy of %s: %s",
			               items[i].url, err_str(items[i].result));
		if (items[i].reused) {
			st.reused++;
			st.bytes_reused += (uint64_t)(items[i].size > 0 ? items[i].size : 0);
		}
	}
	ret = prepare_dirs(c, items, n);
	if (ret == 0)
		ret = download_missing(c, items, n, opts, &st);
	for (size_t i = 0; i < n; i++)
		if (items[i].result == 0)
			items[i].path = cache_entry_path(c, items[i].sha256);
	if (stats)
		*stats = st;
	return ret;
}

void cache_items_clear(struct cache_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].path);
		items[i].path = NULL;
	}
}

static int copy_file(const char *src, const char *dst)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[1 << 16];
	ssize_t r;

	if (in < 0)
		return err_set(-errno, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return err_set(-errno, "%s: %s", dst, strerror(errno));
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r)
			return err_set(-EIO, "%s: short write", dst);
	return r < 0 ? err_set(-errno, "%s: %s", src, strerror(errno)) : 0;
}

int cache_export(const struct cache *c, const char *sha256, const char *dest)
{
	_cleanup_free_ char *src = cache_entry_path(c, sha256);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", dest, (int)getpid());
	int ret = 0;

	unlink(tmp);
	if (link(src, tmp) < 0)
		ret = copy_file(src, tmp);
	if (ret == 0 && rename(tmp, dest) < 0)
		ret = err_set(-errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (ret < 0)
		unlink(tmp);
	return ret;
}
