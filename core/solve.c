/* SPDX-License-Identifier: MIT */
#include <fnmatch.h>
#include <string.h>

#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/repo.h>
#include <solv/repo_deb.h>
#include <solv/solv_xfopen.h>
#include <solv/solver.h>
#include <solv/solverdebug.h>
#include <solv/chksum.h>
#include <solv/evr.h>

#include "log.h"
#include "solve.h"

#define LOG_CAT "resolve"

static const char *const priorities[] = {"",         "required", "important",
                                         "standard", "optional", "extra"};

struct repoinfo {
	char *name, *url, *suite, *date;
};

/* What libsolv's reader does not keep, per solvable id. */
struct meta {
	int64_t size;
	uint8_t priority; /* index in priorities[] */
	char **tags;      /* sorted */
	size_t n_tags;
};

struct solver {
	Pool *pool;
	struct meta *meta;
	size_t n_meta;
	int dirty; /* whatprovides must be rebuilt */
	struct repoinfo **repos;
	size_t n_repos;
};

int solve_new(const char *arch, struct solver **out)
{
	struct solver *s = xcalloc(1, sizeof(*s));

	s->pool = pool_create();
	if (pool_setdisttype(s->pool, DISTTYPE_DEB) < 0) {
		pool_free(s->pool);
		free(s);
		return err_set(-ENOTSUP, "this libsolv was built without Debian support");
	}
	pool_setarch(s->pool, arch);
	*out = s;
	return 0;
}

static void meta_clear(struct meta *m)
{
	for (size_t i = 0; i < m->n_tags; i++)
		free(m->tags[i]);
	free(m->tags);
}

void solve_free(struct solver *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_meta; i++)
		meta_clear(&s->meta[i]);
	free(s->meta);
	for (size_t i = 0; i < s->n_repos; i++) {
		free(s->repos[i]->name);
		free(s->repos[i]->url);
		free(s->repos[i]->suite);
		free(s->repos[i]->date);
		free(s->repos[i]);
	}
	free(s->repos);
	pool_free(s->pool);
	free(s);
}

static void meta_grow(struct solver *s)
{
	size_t n = (size_t)s->pool->nsolvables;

	if (n <= s->n_meta)
		return;
	s->meta = realloc(s->meta, n * sizeof(*s->meta));
	if (!s->meta)
		abort();
	memset(s->meta + s->n_meta, 0, (n - s->n_meta) * sizeof(*s->meta));
	s->n_meta = n;
}

/* ---- loading ---- */

static int read_index(const char *path, char **buf, size_t *len)
{
	FILE *f = solv_xfopen(path, "r");
	size_t cap = 1 << 20, n = 0, r;
	char *b;

	if (!f)
		return err_set(-errno ? -errno : -EIO, "cannot open index %s", path);
	b = malloc(cap + 1);
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap && !(b = realloc(b, (cap *= 2) + 1)))
			break;
	}
	if (!b)
		abort();
	if (ferror(f)) {
		fclose(f);
		free(b);
		return err_set(-EIO, "cannot decompress index %s", path);
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* Value of field `key` at the start of a line in stanza [p, end), or NULL. */
static const char *field(const char *p, const char *end, const char *key, size_t *vlen)
{
	size_t klen = strlen(key);

	for (const char *l = p; l && l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));

		if ((size_t)(end - l) > klen && !strncasecmp(l, key, klen) && l[klen] == ':') {
			const char *v = l + klen + 1;

			while (*v == ' ')
				v++;
			*vlen = (size_t)((nl ? nl : end) - v);
			return v;
		}
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static uint8_t priority_index(const char *v, size_t n)
{
	for (uint8_t i = 1; i < ARRAY_SIZE(priorities); i++)
		if (strlen(priorities[i]) == n && !strncmp(priorities[i], v, n))
			return i;
	return 0;
}

/* The "\n\n" that ends a stanza, or NULL (memchr stays linear where strstr may not). */
static const char *blank_line(const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || nl + 1 >= end)
			return NULL;
		if (nl[1] == '\n')
			return nl;
		p = nl + 1;
	}
	return NULL;
}

/* Second pass over the index for Size and Priority, stanza k -> solvable first + k. */
static int scan_meta(struct solver *s, const char *buf, size_t len, Id first, const char *path)
{
	const char *p = buf, *end = buf + len;
	Id id = first;

	meta_grow(s);
	while (p < end) {
		const char *stop = blank_line(p, end);
		const char *se = stop ? stop + 1 : end;
		size_t nl = 0, vl = 0;
		const char *name = field(p, se, "Package", &nl);

		if (name) {
			const char *size = field(p, se, "Size", &vl);
			Solvable *sv = id < s->pool->nsolvables ? s->pool->solvables + id : NULL;

			if (!sv || !sv->name || strlen(pool_id2str(s->pool, sv->name)) != nl ||
			    strncmp(pool_id2str(s->pool, sv->name), name, nl))
				return err_set(-EIO, "%s: index out of step near %.*s", path,
				               (int)nl, name);
			s->meta[id].size = size ? strtoll(size, NULL, 10) : -1;
			size = field(p, se, "Priority", &vl);
			s->meta[id].priority = size ? priority_index(size, vl) : 0;
			id++;
		}
		p = stop ? stop + 2 : end;
	}
	return 0;
}

int solve_add_debian(struct solver *s, const char *repo_name, const char *base_url,
                     const char *suite, const char *date, const char *index_path)
{
	_cleanup_free_ char *buf = NULL;
	struct repoinfo *ri;
	size_t len = 0;
	Repo *repo;
	FILE *f;
	Id first;
	int ret = read_index(index_path, &buf, &len);

	if (ret < 0)
		return ret;
	ri = xcalloc(1, sizeof(*ri));
	*ri = (struct repoinfo){xstrdup(repo_name), xstrdup(base_url), xstrdup(suite),
	                        xstrdup(date ? date : "-")};
	s->repos = realloc(s->repos, (s->n_repos + 1) * sizeof(*s->repos));
	if (!s->repos)
		abort();
	s->repos[s->n_repos++] = ri;
	repo = repo_create(s->pool, repo_name);
	repo->appdata = ri;
	first = s->pool->nsolvables;
	f = fmemopen(buf, len, "r");
	if (!f)
		return err_set(-ENOMEM, "out of memory reading %s", index_path);
	ret = repo_add_debpackages(repo, f, 0);
	fclose(f);
	if (ret < 0)
		return err_set(-EIO, "%s: %s", index_path, pool_errstr(s->pool));
	s->dirty = 1;
	log_debug(LOG_CAT, "%s: %d packages", index_path, repo->nsolvables);
	return scan_meta(s, buf, len, first, index_path);
}

/* ---- queries ---- */

static void prepare(struct solver *s)
{
	if (!s->dirty)
		return;
	pool_addfileprovides(s->pool);
	pool_createwhatprovides(s->pool);
	meta_grow(s);
	s->dirty = 0;
}

int solve_newest(struct solver *s, const char *pattern, int (*accept)(const char *name, void *arg),
                 void *arg, char **name, char **version)
{
	Pool *pool = s->pool;
	Id best = 0;

	prepare(s);
	for (Id p = 2; p < pool->nsolvables; p++) {
		Solvable *sv = pool->solvables + p;
		const char *n;

		if (!sv->repo || !sv->name)
			continue;
		n = pool_id2str(pool, sv->name);
		if (fnmatch(pattern, n, 0) != 0 || (accept && !accept(n, arg)))
			continue;
		if (!best ||
		    pool_evrcmp(pool, sv->evr, pool->solvables[best].evr, EVRCMP_COMPARE) > 0)
			best = p;
	}
	if (!best)
		return err_set(-ENOENT, "no package matches %s", pattern);
	*name = xstrdup(pool_id2str(pool, pool->solvables[best].name));
	*version = xstrdup(pool_id2str(pool, pool->solvables[best].evr));
	return 0;
}

char **solve_names_by_priority(struct solver *s, const char *priority)
{
	Pool *pool = s->pool;
	uint8_t want = priority_index(priority, strlen(priority));
	char **v = xcalloc((size_t)pool->nsolvables + 1, sizeof(char *));
	size_t n = 0;

	prepare(s);
	for (Id p = 2; want && p < pool->nsolvables; p++) {
		Solvable *sv = pool->solvables + p;
		const char *nm;
		int dup = 0;

		if (!sv->repo || s->meta[p].priority != want)
			continue;
		nm = pool_id2str(pool, sv->name);
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(v[i], nm);
		if (!dup)
			v[n++] = xstrdup(nm);
	}
	return v;
}

/* ---- dependencies in Debian syntax ---- */

static Id parse_one(Pool *pool, const char **pp)
{
	const char *p = *pp, *n, *ne;
	Id id;

	while (*p == ' ')
		p++;
	n = p;
	while (*p && *p != ' ' && *p != '(' && *p != '|' && *p != ',')
		p++;
	ne = p;
	if (ne == n)
		return 0;
	id = pool_strn2id(pool, n, (unsigned)(ne - n), 1);
	while (*p == ' ')
		p++;
	if (*p == '(') {
		int flags = 0;
		const char *e;

		for (p++; *p == ' '; p++)
			;
		for (; *p == '<' || *p == '>' || *p == '='; p++)
			flags |= *p == '<' ? REL_LT : *p == '>' ? REL_GT : REL_EQ;
		if (flags == REL_LT || flags == REL_GT) /* "<" and ">" mean "<=" and ">=" */
			flags |= p[-1] == p[-2] ? 0 : REL_EQ;
		while (*p == ' ')
			p++;
		e = p;
		while (*p && *p != ')' && *p != ' ')
			p++;
		if (!flags || e == p)
			return 0;
		id = pool_rel2id(pool, id, pool_strn2id(pool, e, (unsigned)(p - e), 1), flags, 1);
		while (*p && *p != ')')
			p++;
		if (*p != ')')
			return 0;
		p++;
	}
	*pp = p;
	return id;
}

static Id parse_dep(Pool *pool, const char *dep)
{
	const char *p = dep;
	Id id = parse_one(pool, &p), alt;

	while (id) {
		while (*p == ' ')
			p++;
		if (!*p)
			return id;
		if (*p != '|')
			return 0;
		p++;
		alt = parse_one(pool, &p);
		if (!alt)
			return 0;
		id = pool_rel2id(pool, id, alt, REL_OR, 1);
	}
	return 0;
}

static void dep_fmt(Pool *pool, Id id, FILE *f)
{
	static const char *const ops[] = {"", ">>", "=", ">=", "<<", "<>", "<=", "?"};
	Reldep *rd;

	if (!ISRELDEP(id)) {
		fputs(pool_id2str(pool, id), f);
		return;
	}
	rd = GETRELDEP(pool, id);
	if (rd->flags == REL_OR) {
		dep_fmt(pool, rd->name, f);
		fputs(" | ", f);
		dep_fmt(pool, rd->evr, f);
	} else if (rd->flags == REL_MULTIARCH) {
		dep_fmt(pool, rd->name, f);
		fputs(":any", f);
	} else if (rd->flags < 8) {
		dep_fmt(pool, rd->name, f);
		fprintf(f, " (%s %s)", ops[rd->flags], pool_id2str(pool, rd->evr));
	} else {
		fputs(pool_dep2str(pool, id), f);
	}
}

static char *dep_str(Pool *pool, Id id)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	dep_fmt(pool, id, f);
	fclose(f);
	return buf;
}

char *solve_depends_of(struct solver *s, const char *name)
{
	Pool *pool = s->pool;
	Id best = 0, nid = pool_str2id(pool, name, 0);
	Queue q;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	prepare(s);
	for (Id p = 2; nid && p < pool->nsolvables; p++)
		if (pool->solvables[p].repo && pool->solvables[p].name == nid &&
		    (!best || pool_evrcmp(pool, pool->solvables[p].evr, pool->solvables[best].evr,
		                          EVRCMP_COMPARE) > 0))
			best = p;
	if (!best)
		return NULL;
	queue_init(&q);
	solvable_lookup_deparray(pool->solvables + best, SOLVABLE_REQUIRES, &q, -1);
	f = open_memstream(&buf, &len);
	for (int i = 0; f && i < q.count; i++) {
		if (i)
			fputs(", ", f);
		dep_fmt(pool, q.elements[i], f);
	}
	if (f)
		fclose(f);
	queue_free(&q);
	return buf;
}

/* ---- solving ---- */

static const char *sname(Pool *pool, Id p)
{
	return pool_id2str(pool, pool->solvables[p].name);
}

/* One problem rule in apt's words. */
static char *rule_words(Solver *solv, Id rule)
{
	Pool *pool = solv->pool;
	Id src = 0, tgt = 0, dep = 0;
	SolverRuleinfo type = solver_ruleinfo(solv, rule, &src, &tgt, &dep);
	_cleanup_free_ char *d = dep ? dep_str(pool, dep) : NULL;

	switch (type) {
	case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
	case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
		return xasprintf("Unable to locate package %s", d ? d : "?");
	case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
		return xasprintf("%s : Depends: %s but it is not installable", sname(pool, src), d);
	case SOLVER_RULE_PKG_REQUIRES:
		return xasprintf("%s : Depends: %s but it is not going to be installed",
		                 sname(pool, src), d);
	case SOLVER_RULE_PKG_CONFLICTS:
		return xasprintf("%s : Conflicts or Breaks: %s (%s %s is wanted too)",
		                 sname(pool, src), d, sname(pool, tgt),
		                 pool_id2str(pool, pool->solvables[tgt].evr));
	case SOLVER_RULE_PKG_SAME_NAME:
		return xasprintf("%s %s and %s %s cannot both be installed", sname(pool, src),
		                 pool_id2str(pool, pool->solvables[src].evr), sname(pool, tgt),
		                 pool_id2str(pool, pool->solvables[tgt].evr));
	case SOLVER_RULE_PKG_OBSOLETES:
	case SOLVER_RULE_PKG_IMPLICIT_OBSOLETES:
	case SOLVER_RULE_PKG_INSTALLED_OBSOLETES:
		return xasprintf("%s : Replaces and Conflicts: %s", sname(pool, src), d);
	case SOLVER_RULE_PKG_NOT_INSTALLABLE:
		return xasprintf("%s is not installable on %s", sname(pool, src),
		                 pool_id2str(pool, pool->solvables[src].arch));
	case SOLVER_RULE_PKG_SELF_CONFLICT:
		return xasprintf("%s : Conflicts: %s, which it provides itself", sname(pool, src),
		                 d);
	case SOLVER_RULE_JOB:
	case SOLVER_RULE_PKG:
		return NULL; /* the request itself: said by the other lines */
	default:
		return xstrdup(solver_problemruleinfo2str(solv, type, src, tgt, dep));
	}
}

static int explain(Solver *solv, int n_problems, const char *purpose)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	Queue rules;
	int lines = 0, ret;

	queue_init(&rules);
	fprintf(f,
	        "cannot resolve the %s set: some packages could not be installed. "
	        "The following packages have unmet dependencies:",
	        purpose);
	for (Id p = 1; p <= n_problems; p++) {
		solver_findallproblemrules(solv, p, &rules);
		for (int i = 0; i < rules.count && lines < 12; i++) {
			_cleanup_free_ char *w = rule_words(solv, rules.elements[i]);

			if (!w)
				continue;
			fflush(f);
			if (strstr(buf, w))
				continue;
			fprintf(f, "\n  %s", w);
			lines++;
		}
	}
	queue_free(&rules);
	fclose(f);
	ret = err_set(-KLD_E_UNSAT, "%s", buf);
	free(buf);
	return ret;
}

static void tag_add(struct meta *m, const char *tag)
{
	size_t i = 0;

	while (i < m->n_tags && strcmp(m->tags[i], tag) < 0)
		i++;
	if (i < m->n_tags && !strcmp(m->tags[i], tag))
		return;
	m->tags = realloc(m->tags, (m->n_tags + 1) * sizeof(char *));
	if (!m->tags)
		abort();
	memmove(m->tags + i + 1, m->tags + i, (m->n_tags - i) * sizeof(char *));
	m->tags[i] = xstrdup(tag);
	m->n_tags++;
}

/* Tag the package of the result that satisfies `dep` (the job's root) with `tag`. */
static int tag_root(struct solver *s, const Queue *result, Id dep, const char *tag)
{
	Pool *pool = s->pool;
	Id p, pp;
	int found = 0;

	FOR_PROVIDES(p, pp, dep)
	{
		for (int i = 0; i < result->count; i++)
			if (result->elements[i] == p) {
				tag_add(&s->meta[p], tag);
				found = 1;
			}
	}
	return found;
}

static int build_jobs(struct solver *s, const struct solve_job *jobs, size_t n, Queue *q, Id *deps)
{
	for (size_t i = 0; i < n; i++) {
		Id dep = parse_dep(s->pool, jobs[i].dep);
		Id how = SOLVER_INSTALL | SOLVER_SOLVABLE_PROVIDES;

		if (!dep)
			return err_set(-KLD_E_CONFIG, "cannot read the dependency \"%s\"",
			               jobs[i].dep);
		if (jobs[i].flags & SOLVE_WEAK)
			how |= SOLVER_WEAK;
		queue_push2(q, how, dep);
		deps[i] = dep;
	}
	return 0;
}

static void record(struct solver *s, const char *purpose, const struct solve_job *jobs, size_t n,
                   const Id *deps, const Queue *result)
{
	for (int i = 0; i < result->count; i++)
		tag_add(&s->meta[result->elements[i]], purpose);
	for (size_t i = 0; i < n; i++) {
		int found = tag_root(s, result, deps[i], jobs[i].tag ? jobs[i].tag : purpose);

		if (!found && (jobs[i].flags & SOLVE_WEAK))
			log_info(LOG_CAT, "%s: left out %s (not installable together)", purpose,
			         jobs[i].dep);
	}
}

int solve_run(struct solver *s, const char *purpose, const struct solve_job *jobs, size_t n,
              uint32_t flags)
{
	Pool *pool = s->pool;
	_cleanup_free_ Id *deps = xcalloc(n ? n : 1, sizeof(Id));
	Solver *solv;
	Queue job, result;
	int problems, ret;

	prepare(s);
	queue_init(&job);
	queue_init(&result);
	ret = build_jobs(s, jobs, n, &job, deps);
	if (ret < 0)
		goto out;
	solv = solver_create(pool);
	solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, !(flags & SOLVE_RECOMMENDS));
	problems = solver_solve(solv, &job);
	if (problems) {
		ret = explain(solv, problems, purpose);
	} else {
		Queue dq;

		queue_init(&dq);
		solver_get_decisionqueue(solv, &dq);
		for (int i = 0; i < dq.count; i++)
			if (dq.elements[i] > 1 && pool->solvables[dq.elements[i]].repo)
				queue_push(&result, dq.elements[i]);
		queue_free(&dq);
		record(s, purpose, jobs, n, deps, &result);
		log_info(LOG_CAT, "%s: %d packages", purpose, result.count);
	}
	solver_free(solv);
out:
	queue_free(&job);
	queue_free(&result);
	return ret;
}

size_t solve_selected(const struct solver *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_meta; i++)
		n += s->meta[i].n_tags > 0;
	return n;
}

static char *join_tags(const struct meta *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; f && i < m->n_tags; i++)
		fprintf(f, "%s%s", i ? "," : "", m->tags[i]);
	if (f)
		fclose(f);
	return buf;
}

static int fill_entry(struct solver *s, Id p, struct lock_entry *e)
{
	Pool *pool = s->pool;
	Solvable *sv = pool->solvables + p;
	struct repoinfo *ri = sv->repo->appdata;
	Id type = 0;
	const char *sum = solvable_lookup_checksum(sv, SOLVABLE_CHECKSUM, &type);
	const char *loc = solvable_lookup_location(sv, NULL);

	if (!sum || type != REPOKEY_TYPE_SHA256 || !loc || s->meta[p].size < 0)
		return err_set(-KLD_E_VERIFY, "%s %s: its index entry has no %s", sname(pool, p),
		               pool_id2str(pool, sv->evr),
		               !loc                  ? "Filename"
		               : s->meta[p].size < 0 ? "Size"
		                                     : "SHA256");
	*e = (struct lock_entry){
	    .name = xstrdup(sname(pool, p)),
	    .version = xstrdup(pool_id2str(pool, sv->evr)),
	    .arch = xstrdup(pool_id2str(pool, sv->arch)),
	    .repo = xstrdup(ri->name),
	    .path = xstrdup(loc),
	    .size = s->meta[p].size,
	    .tags = join_tags(&s->meta[p]),
	};
	memcpy(e->sha256, sum, SHA256_HEX_LEN);
	return 0;
}

static void add_repos(struct solver *s, struct lock *l)
{
	for (size_t i = 0; i < s->n_repos; i++) {
		const struct repoinfo *ri = s->repos[i];
		int dup = 0;

		for (size_t k = 0; k < l->n_repos; k++)
			dup |= !strcmp(l->repos[k].name, ri->name);
		if (dup)
			continue;
		l->repos = realloc(l->repos, (l->n_repos + 1) * sizeof(*l->repos));
		if (!l->repos)
			abort();
		l->repos[l->n_repos++] = (struct lock_repo){xstrdup(ri->name), xstrdup(ri->url),
		                                            xstrdup(ri->suite), xstrdup(ri->date)};
	}
}

int solve_to_lock(struct solver *s, struct lock *l)
{
	size_t n = solve_selected(s), k = 0;

	add_repos(s, l);
	l->entries = xcalloc(n ? n : 1, sizeof(*l->entries));
	for (size_t p = 0; p < s->n_meta; p++) {
		int ret;

		if (!s->meta[p].n_tags)
			continue;
		ret = fill_entry(s, (Id)p, &l->entries[k]);
		if (ret < 0) {
			l->n_entries = k;
			return ret;
		}
		k++;
	}
	l->n_entries = k;
	lock_sort(l);
	return 0;
}
