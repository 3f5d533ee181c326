/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "lock.h"
#include "verify.h"

static void repo_clear(struct lock_repo *r)
{
	free(r->name);
	free(r->url);
	free(r->suite);
	free(r->date);
}

static void entry_clear(struct lock_entry *e)
{
	free(e->name);
	free(e->version);
	free(e->arch);
	free(e->repo);
	free(e->path);
	free(e->tags);
}

void lock_clear(struct lock *l)
{
	free(l->distro);
	free(l->release);
	free(l->version);
	free(l->arch);
	free(l->kernel);
	free(l->date_str);
	for (size_t i = 0; i < l->n_repos; i++)
		repo_clear(&l->repos[i]);
	free(l->repos);
	for (size_t i = 0; i < l->n_entries; i++)
		entry_clear(&l->entries[i]);
	free(l->entries);
	*l = (struct lock){0};
}

static int entry_cmp(const void *a, const void *b)
{
	const struct lock_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (!c)
		c = strcmp(x->version, y->version);
	if (!c)
		c = strcmp(x->arch, y->arch);
	return c;
}

void lock_sort(struct lock *l)
{
	if (l->n_entries)
		qsort(l->entries, l->n_entries, sizeof(*l->entries), entry_cmp);
}

static int valid_word(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n')
			return 0;
	return 1;
}

static int write_header(FILE *f, const struct lock *l)
{
	fprintf(f, "kldload-lock %d\n", LOCK_FORMAT);
	fprintf(f, "distro: %s\n", l->distro ? l->distro : "");
	fprintf(f, "release: %s %s\n", l->release ? l->release : "-",
	        l->version ? l->version : "-");
	fprintf(f, "date: %s\n", l->date_str ? l->date_str : "");
	fprintf(f, "arch: %s\n", l->arch ? l->arch : "");
	fprintf(f, "kernel: %s\n", l->kernel ? l->kernel : "-");
	for (size_t i = 0; i < l->n_repos; i++) {
		const struct lock_repo *r = &l->repos[i];

		if (!valid_word(r->name) || !valid_word(r->url) || !valid_word(r->suite))
			return err_set(-EINVAL, "lock: repository %s has an unusable field",
			               r->name ? r->name : "?");
		fprintf(f, "repo: %s %s %s %s\n", r->name, r->url, r->suite,
		        r->date ? r->date : "-");
	}
	fputc('\n', f);
	return 0;
}

int lock_write(struct lock *l, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return err_set(-ENOMEM, "lock: out of memory");
	lock_sort(l);
	ret = write_header(f, l);
	for (size_t i = 0; ret == 0 && i < l->n_entries; i++) {
		const struct lock_entry *e = &l->entries[i];

		if (!valid_word(e->name) || !valid_word(e->version) || !valid_word(e->arch) ||
		    !valid_word(e->repo) || !valid_word(e->path) || !valid_word(e->tags) ||
		    strlen(e->sha256) != 64 || e->size < 0)
			ret = err_set(-KLD_E_VERIFY, "lock: package %s has no usable %s", e->name,
			              strlen(e->sha256) != 64 ? "SHA-256" : "field");
		else
			fprintf(f, "%s %s %s %s %s %lld %s %s\n", e->name, e->version, e->arch,
			        e->repo, e->path, (long long)e->size, e->sha256, e->tags);
	}
	fclose(f);
	if (ret < 0)
		return ret;
	return write_file_atomic(path, buf, len, 0644);
}

/* ---- reading ---- */

static char *dup_word(char **s)
{
	char *w = strsep(s, " ");

	return w && *w ? xstrdup(w) : NULL;
}

static int parse_repo(struct lock *l, char *v)
{
	struct lock_repo r = {0};

	r.name = dup_word(&v);
	r.url = dup_word(&v);
	r.suite = dup_word(&v);
	r.date = v && *v ? xstrdup(v) : NULL;
	if (!r.name || !r.url || !r.suite) {
		repo_clear(&r);
		return -EINVAL;
	}
	l->repos = realloc(l->repos, (l->n_repos + 1) * sizeof(*l->repos));
	if (!l->repos)
		abort();
	l->repos[l->n_repos++] = r;
	return 0;
}

static int parse_header(struct lock *l, char *line)
{
	char *colon = strchr(line, ':');
	char *v;

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	v = colon + 1 + (colon[1] == ' ');
	if (!strcmp(line, "distro"))
		l->distro = xstrdup(v);
	else if (!strcmp(line, "release")) {
		l->release = dup_word(&v);
		l->version = v ? dup_word(&v) : NULL;
	} else if (!strcmp(line, "date")) {
		l->date_str = xstrdup(v);
		l->date = release_parse_date(v);
	} else if (!strcmp(line, "arch"))
		l->arch = xstrdup(v);
	else if (!strcmp(line, "kernel"))
		l->kernel = strcmp(v, "-") ? xstrdup(v) : NULL;
	else if (!strcmp(line, "repo"))
		return parse_repo(l, v);
	/* unknown header keys are ignored: later minor formats may add some */
	return 0;
}

static int is_hex64(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 64 && s[64] == '\0';
}

static int parse_entry(struct lock *l, char *line)
{
	struct lock_entry e = {0};
	char *size, *sha, *end = NULL;

	e.name = dup_word(&line);
	e.version = dup_word(&line);
	e.arch = dup_word(&line);
	e.repo = dup_word(&line);
	e.path = dup_word(&line);
	size = strsep(&line, " ");
	sha = strsep(&line, " ");
	e.tags = dup_word(&line);
	if (!e.tags || line || !size || !sha || !is_hex64(sha) || !lock_repo_find(l, e.repo)) {
		entry_clear(&e);
		return -EINVAL;
	}
	e.size = strtoll(size, &end, 10);
	if (*end || e.size < 0) {
		entry_clear(&e);
		return -EINVAL;
	}
	memcpy(e.sha256, sha, SHA256_HEX_LEN);
	if (l->n_entries % 256 == 0)
		l->entries = realloc(l->entries, (l->n_entries + 256) * sizeof(*l->entries));
	if (!l->entries)
		abort();
	l->entries[l->n_entries++] = e;
	return 0;
}

static int parse_lines(struct lock *l, char *data, const char *path)
{
	int in_body = 0;
	unsigned lineno = 1;
	char *line = data;

	for (char *nl; line && *line; line = nl, lineno++) {
		int ret;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (lineno == 1) {
			if (strcmp(line, "kldload-lock 1") != 0)
				return err_set(-KLD_E_CONFIG, "%s: not a kldload lock (format 1)",
				               path);
			continue;
		}
		if (!*line) {
			in_body = 1;
			continue;
		}
		ret = in_body ? parse_entry(l, line) : parse_header(l, line);
		if (ret < 0)
			return err_set(-KLD_E_CONFIG, "%s:%u: malformed line", path, lineno);
	}
	return in_body ? 0 : err_set(-KLD_E_CONFIG, "%s: no package list", path);
}

int lock_load(const char *path, struct lock *out)
{
	_cleanup_free_ char *data = NULL;
	struct lock l = {0};
	size_t len;
	int ret = read_file(path, &data, &len);

	if (ret < 0)
		return ret;
	ret = parse_lines(&l, data, path);
	for (size_t i = 1; ret == 0 && i < l.n_entries; i++)
		if (entry_cmp(&l.entries[i - 1], &l.entries[i]) >= 0)
			ret = err_set(-KLD_E_CONFIG, "%s: package %s out of order or repeated",
			              path, l.entries[i].name);
	if (ret < 0) {
		lock_clear(&l);
		return ret;
	}
	*out = l;
	return 0;
}

const struct lock_repo *lock_repo_find(const struct lock *l, const char *name)
{
	for (size_t i = 0; name && i < l->n_repos; i++)
		if (!strcmp(l->repos[i].name, name))
			return &l->repos[i];
	return NULL;
}

const struct lock_entry *lock_find(const struct lock *l, const char *name)
{
	for (size_t i = 0; i < l->n_entries; i++)
		if (!strcmp(l->entries[i].name, name))
			return &l->entries[i];
	return NULL;
}

int lock_entry_has_tag(const struct lock_entry *e, const char *tag)
{
	size_t n = strlen(tag);

	for (const char *p = e->tags; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);

		if (len == n && !memcmp(p, tag, n))
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

char *lock_entry_url(const struct lock *l, const struct lock_entry *e)
{
	const struct lock_repo *r = lock_repo_find(l, e->repo);

	return r ? path_join(r->url, e->path) : NULL;
}

char *lock_entry_path(const struct cache *c, const struct lock_entry *e)
{
	return cache_entry_path(c, e->sha256);
}

double lock_age(const struct lock *l, time_t now)
{
	return l->date > 0 ? difftime(now, l->date) : 0;
}

int lock_fetch(const struct lock *l, const char *tag, const struct cache *c,
               const struct dl_opts *opts, struct cache_stats *stats)
{
	struct cache_item *items = xcalloc(l->n_entries ? l->n_entries : 1, sizeof(*items));
	char **urls = xcalloc(l->n_entries ? l->n_entries : 1, sizeof(*urls));
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < l->n_entries; i++) {
		const struct lock_entry *e = &l->entries[i];

		if (tag && !lock_entry_has_tag(e, tag))
			continue;
		urls[n] = lock_entry_url(l, e);
		items[n] =
		    (struct cache_item){.url = urls[n], .sha256 = e->sha256, .size = e->size};
		n++;
	}
	ret = cache_fetch(c, items, n, opts, stats);
	cache_items_clear(items, n);
	for (size_t i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
	free(items);
	return ret;
}
