/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "build.h"
#include "buildroot.h"
#include "cache.h"
#include "ctx.h"
#include "dkms.h"
#include "lock.h"
#include "log.h"
#include "plugin.h"
#include "runner.h"
#include "sandbox.h"
#include "util.h"

#define LOG_CAT    "build-modules"
#define TAIL_LINES 25

/* One target kernel: its build root, ready. */
struct kernel_root {
	char *release;
	char *root;    /* host path */
	char *root_id; /* sha256 of its package set */
	char *kconfig; /* .config text */
};

/* A recipe's source archive, declared as KLD_NEED_SOURCE_URL "<url> <sha256>". */
struct source_url {
	char *url;
	char sha256[SHA256_HEX_LEN];
};

/* One (kernel, recipe) pair. */
struct build_job {
	struct loaded_plugin *plugin;
	struct kernel_root *kernel;
	const struct stage_env *env;
	const struct cache *cache;
	char *module;     /* directory name of the recipe's results */
	char *key;        /* result cache key */
	char *work;       /* host path bound at KLD_BUILD_WORK_DIR */
	char *log_path;   /* host path */
	char *result;     /* <out>/<release>/modules/<module> */
	char *cached;     /* <cache>/build-results/<key> */
	const char *arch; /* uname -m of the target */
	struct source_url *sources;
	size_t n_sources;
	const struct sandbox_bind *extra; /* more bind mounts, during a dkms build */
	size_t n_extra;
	int jobs;
	int log_fd;
	int state; /* 0 pending, 1 running, 2 done */
	int ret;
	char *error;
};

static _Thread_local struct build_job *current;

/* ---- small helpers ---- */

const char *build_uname_arch(const char *a)
{
	static const char *const map[][2] = {{"amd64", "x86_64"}, {"arm64", "aarch64"},
	                                     {"i386", "i686"},    {"ppc64el", "ppc64le"},
	                                     {"armhf", "armv7l"}, {"armel", "armv5tel"}};

	if (!a)
		return "x86_64";
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(map[i][0], a))
			return map[i][1];
	return a;
}

char *build_log_tail(const char *path, int lines)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	const char *p;
	int seen = 0;

	if (read_file(path, &data, &len) < 0) {
		err_clear();
		return xstrdup("");
	}
	while (len && data[len - 1] == '\n')
		data[--len] = '\0';
	for (p = data + len; p > data; p--)
		if (p[-1] == '\n' && ++seen == lines)
			break;
	return xstrdup(p);
}

int build_check_vermagic(const char *path, const char *release)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ char *want = xasprintf("vermagic=%s ", release);
	const char *v;
	size_t len;
	int r;

	if ((r = read_file(path, &data, &len)) < 0)
		return r;
	v = memmem(data, len, "vermagic=", 9);
	if (!v)
		return err_set(-KLD_E_BUILD, "%s has no vermagic: not a kernel module", path);
	if (strncmp(v, want, strlen(want)))
		return err_set(-KLD_E_BUILD, "%s was built for another kernel (%.60s), not %s",
		               path, v, release);
	return 1;
}

static int copy_file(const char *src, const char *dst)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ char *dir = xstrdup(dst);
	struct stat st;
	size_t len;
	int r;

	if (stat(src, &st) < 0)
		return err_set(-errno, "%s: %s", src, strerror(errno));
	*strrchr(dir, '/') = '\0';
	if ((r = mkdir_p(dir, 0755)) < 0 || (r = read_file(src, &data, &len)) < 0)
		return r;
	return write_file_atomic(dst, data, len, st.st_mode & 0755);
}

/* Copy the regular files of a tree (results are a few .ko files). */
static int copy_tree(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int r = mkdir_p(dst, 0755);

	if (!d)
		return err_set(-errno, "%s: %s", src, strerror(errno));
	while (r >= 0 && (e = readdir(d))) {
		_cleanup_free_ char *s = NULL, *t = NULL;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		s = path_join(src, e->d_name);
		t = path_join(dst, e->d_name);
		r = is_dir(s) ? copy_tree(s, t) : copy_file(s, t);
	}
	closedir(d);
	return r;
}

static int job_cancelled(void *arg)
{
	(void)arg;
	return stage_cancelled();
}

/* ---- the service, bound to the job of the calling thread ---- */

static struct build_job *job_of(struct kld_ctx *ctx, const char *what)
{
	if (!current || &current->plugin->ctx != ctx) {
		ctx_error(ctx, -EPERM, "kld.build: %s() may only be called from build()", what);
		return NULL;
	}
	return current;
}

static const char *s_kernel_release(struct kld_ctx *ctx)
{
	struct build_job *j = job_of(ctx, "kernel_release");

	return j ? j->kernel->release : NULL;
}

static char *s_kernel_config(struct kld_ctx *ctx, const char *symbol)
{
	struct build_job *j = job_of(ctx, "kernel_config");

	return j && symbol ? kconfig_value(j->kernel->kconfig, symbol) : NULL;
}

static int s_read_file(struct kld_ctx *ctx, const char *path, char **data, uint64_t *len)
{
	struct build_job *j = job_of(ctx, "read_file");
	size_t n;
	int r;

	if (!j)
		return -EPERM;
	r = buildroot_read(j->kernel->root, path, data, &n);
	if (r < 0)
		return ctx_error(ctx, r, "%s", err_msg());
	if (len)
		*len = n;
	return 0;
}

static int s_package_file(struct kld_ctx *ctx, const char *package, const char *suffix, char **path)
{
	struct build_job *j = job_of(ctx, "package_file");
	int r;

	if (!j)
		return -EPERM;
	r = buildroot_package_file(j->kernel->root, package, suffix, path);
	return r < 0 ? ctx_error(ctx, r, "%s", err_msg()) : 0;
}

static int run_in_job(struct build_job *j, const char *const *argv, const char *cwd,
                      const char *const *env, int *status)
{
	struct sandbox_bind binds[4] = {{j->work, KLD_BUILD_WORK_DIR, SANDBOX_BIND_RW}};
	struct sandbox_opts o = {
	    .root = j->kernel->root,
	    .kernel_release = j->kernel->release,
	    .binds = binds,
	    .n_binds = 1 + j->n_extra,
	    .cwd = cwd ? cwd : KLD_BUILD_WORK_DIR,
	    .argv = argv,
	    .env = env,
	    .out_fd = j->log_fd,
	    .cancelled = job_cancelled,
	};

	assert(j->n_extra < ARRAY_SIZE(binds));
	for (size_t i = 0; i < j->n_extra; i++)
		binds[1 + i] = j->extra[i];
	return sandbox_run(&o, status);
}

static int s_run(struct kld_ctx *ctx, const char *const *argv, const char *cwd,
                 const char *const *env, int32_t *status)
{
	struct build_job *j = job_of(ctx, "run");
	int st = 0, r;

	if (!j)
		return -EPERM;
	if (!argv || !argv[0])
		return ctx_error(ctx, -EINVAL, "run(): empty command");
	r = run_in_job(j, argv, cwd, env, &st);
	if (r < 0)
		return ctx_error(ctx, r, "%s", err_msg());
	if (status)
		*status = st;
	return 0;
}

/* A path inside the sandbox under KLD_BUILD_WORK_DIR, as a host path; NULL when outside. */
static char *host_path(const struct build_job *j, const char *inside)
{
	size_t n = strlen(KLD_BUILD_WORK_DIR);

	if (strncmp(inside, KLD_BUILD_WORK_DIR, n) || (inside[n] != '/' && inside[n] != '\0') ||
	    strstr(inside, "/../"))
		return NULL;
	return xasprintf("%s%s", j->work, inside + n);
}

static int valid_dest(const char *dest)
{
	size_t n = strlen(dest);

	return dest[0] != '/' && !strstr(dest, "..") && n > 3 && !strcmp(dest + n - 3, ".ko");
}

/* Add the module at `src` (a host path; `path` names it inside) to the result as `dest`. */
static int add_module(struct kld_ctx *ctx, struct build_job *j, const char *src, const char *path,
                      const char *dest)
{
	_cleanup_free_ char *dst = NULL;
	int r;

	if (!dest || !valid_dest(dest))
		return ctx_error(ctx, -EINVAL, "add_module(): bad destination '%s'", dest);
	if ((r = build_check_vermagic(src, j->kernel->release)) < 0)
		return ctx_error(ctx, r, "%s", err_msg());
	dst = path_join(j->result, dest);
	if ((r = copy_file(src, dst)) < 0)
		return ctx_error(ctx, r, "%s", err_msg());
	log_info(LOG_CAT, "%s: %s -> %s", j->plugin->instance, path, dest);
	return 0;
}

static int s_add_module(struct kld_ctx *ctx, const char *path, const char *dest)
{
	struct build_job *j = job_of(ctx, "add_module");
	_cleanup_free_ char *src = NULL;

	if (!j)
		return -EPERM;
	src = path ? host_path(j, path) : NULL;
	if (!src)
		return ctx_error(ctx, -EINVAL, "add_module(): %s is not under %s", path,
		                 KLD_BUILD_WORK_DIR);
	return add_module(ctx, j, src, path, dest);
}

static const char *s_log_path(struct kld_ctx *ctx)
{
	struct build_job *j = job_of(ctx, "log_path");

	return j ? j->log_path : NULL;
}

/* ---- dkms ---- */

#define DKMS_TREE        "/var/lib/dkms" /* where dkms keeps its builds, inside */
#define DKMS_HOST_TREE   "dkms"          /* ... and in the job's work directory */
#define DKMS_HOST_SOURCE "dkms-source"   /* the writable copy of the source there */

static int dkms_eval(struct build_job *j, const struct dkms_env *env, struct dkms_vars *vars)
{
	_cleanup_free_ char *conf = xasprintf("%s/dkms.conf", env->source_tree);
	_cleanup_free_ char *out = path_join(j->work, "dkms-eval.out");
	_cleanup_free_ char *data = NULL;
	char **e = dkms_env_strv(env);
	const char *argv[] = {"bash",      "-c", dkms_eval_script(),
	                      "dkms-eval", conf, KLD_BUILD_WORK_DIR "/dkms-eval.out",
	                      NULL};
	size_t len;
	int st = 0, r = run_in_job(j, argv, "/", (const char *const *)e, &st);

	strv_free(e);
	if (r >= 0 && st)
		r = err_set(-KLD_E_CONFIG, "%s: evaluating it failed (exit %d)", conf, st);
	if (r >= 0)
		r = read_file(out, &data, &len);
	unlink(out);
	return r < 0 ? r : dkms_vars_parse(data, len, vars);
}

/* Name and version from the source directory's name, "<name>-<version>", as dkms lays it out. */
static void split_source_name(const char *dir, char **name, char **version)
{
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	const char *dash = strrchr(base, '-');

	*name = dash ? strndup(base, (size_t)(dash - base)) : xstrdup(base);
	*version = xstrdup(dash ? dash + 1 : "");
}

static int dkms_read_conf(struct build_job *j, struct dkms_env *env, struct dkms_conf *conf)
{
	struct dkms_vars vars = {0};
	int r = dkms_eval(j, env, &vars);

	if (r >= 0)
		r = dkms_conf_resolve(&vars, env, conf);
	dkms_vars_release(&vars);
	return r;
}

static int dkms_run_build(struct build_job *j, const struct dkms_conf *conf,
                          const struct dkms_env *env)
{
	_cleanup_free_ char *build =
	    xasprintf("%s/%s/%s/build", env->dkms_tree, env->module, env->module_version);
	_cleanup_free_ char *copy =
	    xasprintf("mkdir -p '%s' && cp -a '%s/.' '%s/'", build, env->source_tree, build);
	const char *cp_argv[] = {"sh", "-c", copy, NULL};
	const char *argv[] = {"bash", "-c", dkms_build_script(), "dkms-build", NULL};
	char **e = NULL;
	int st = 0, r;

	if ((r = run_in_job(j, cp_argv, "/", NULL, &st)) < 0)
		return r;
	if (st)
		return err_set(-KLD_E_BUILD, "cannot copy %s to the build directory",
		               env->source_tree);
	e = dkms_build_strv(conf, env, j->jobs);
	r = run_in_job(j, argv, build, (const char *const *)e, &st);
	strv_free(e);
	if (r >= 0 && st)
		r = err_set(-KLD_E_BUILD, "building %s %s for kernel %s failed (exit %d)",
		            conf->package_name, conf->package_version, env->kernelver, st);
	return r;
}

static int dkms_collect(struct kld_ctx *ctx, struct build_job *j, const struct dkms_conf *conf,
                        const struct dkms_env *env, const char *dest_dir)
{
	for (size_t i = 0; i < conf->n_modules; i++) {
		const struct dkms_module *m = &conf->modules[i];
		_cleanup_free_ char *rel =
		    xasprintf("%s/%s/%s/%s/module/%s.ko", conf->package_name, conf->package_version,
		              env->kernelver, env->arch, m->dest_name);
		_cleanup_free_ char *path = xasprintf("%s/%s", DKMS_TREE, rel);
		_cleanup_free_ char *src = xasprintf("%s/%s/%s", j->work, DKMS_HOST_TREE, rel);
		_cleanup_free_ char *dest = xasprintf("%s/%s.ko", dest_dir, m->dest_name);
		int r = add_module(ctx, j, src, path, dest);

		if (r < 0)
			return r;
	}
	return 0;
}

static void dkms_env_init(struct build_job *j, const char *source_dir, char *name, char *version,
                          struct dkms_env *env, char **strs)
{
	strs[0] = xasprintf("/lib/modules/%s/build", j->kernel->release);
	strs[1] = xasprintf("%s/.config", strs[0]);
	strs[2] = xasprintf("%d", j->jobs);
	*env = (struct dkms_env){
	    .kernelver = j->kernel->release,
	    .arch = j->arch,
	    .kernel_source_dir = strs[0],
	    .dkms_tree = DKMS_TREE,
	    .source_tree = source_dir,
	    .install_tree = "/lib/modules",
	    .module = name,
	    .module_version = version,
	    .kernel_config = strs[1],
	    .parallel_jobs = strs[2],
	};
}

static int dkms_check(struct build_job *j, const struct dkms_conf *conf)
{
	_cleanup_free_ char *why = NULL;
	int r = dkms_excluded(conf, j->kernel->release, j->arch, j->kernel->kconfig, &why);

	if (r > 0)
		return err_set(-KLD_E_UNSUPPORTED, "%s %s is not built for kernel %s: %s",
		               conf->package_name, conf->package_version, j->kernel->release, why);
	return r;
}

/*
 * Give the build what dkms gives it: the dkms tree at /var/lib/dkms and a writable source
 * directory at its own path (some dkms.conf build in /usr/src and move the modules into a
 * hard-coded /var/lib/dkms/...). Both live in the job's work directory; `binds` gets the mounts.
 */
static int dkms_prepare(struct build_job *j, const char *source_dir, struct sandbox_bind *binds,
                        char **hosts, size_t *n)
{
	_cleanup_free_ char *copy = NULL;
	const char *argv[] = {"sh", "-c", NULL, NULL};
	int st = 0, r;

	*n = 0;
	hosts[0] = path_join(j->work, DKMS_HOST_TREE);
	if ((r = mkdir_p(hosts[0], 0755)) < 0)
		return r;
	binds[(*n)++] = (struct sandbox_bind){hosts[0], DKMS_TREE, SANDBOX_BIND_RW};
	if ((hosts[1] = host_path(j, source_dir)))
		return 0; /* already in the writable work directory */
	hosts[1] = path_join(j->work, DKMS_HOST_SOURCE);
	if ((r = rm_rf(hosts[1])) < 0 || (r = mkdir_p(hosts[1], 0755)) < 0)
		return r;
	copy = xasprintf("cp -a '%s/.' '" KLD_BUILD_WORK_DIR "/" DKMS_HOST_SOURCE "/'", source_dir);
	argv[2] = copy;
	if ((r = run_in_job(j, argv, "/", NULL, &st)) < 0)
		return r;
	if (st)
		return err_set(-KLD_E_BUILD, "cannot copy %s to a writable directory", source_dir);
	binds[(*n)++] = (struct sandbox_bind){hosts[1], source_dir, SANDBOX_BIND_RW};
	return 0;
}

static int dkms_build_in(struct kld_ctx *ctx, struct build_job *j, const char *source_dir,
                         const char *dest_dir)
{
	_cleanup_free_ char *name = NULL, *version = NULL;
	char *strs[3] = {NULL, NULL, NULL};
	struct dkms_conf conf = {0};
	struct dkms_env env;
	int r;

	split_source_name(source_dir, &name, &version);
	dkms_env_init(j, source_dir, name, version, &env, strs);
	r = dkms_read_conf(j, &env, &conf);
	if (r >= 0 && (strcmp(conf.package_name, name) || strcmp(conf.package_version, version))) {
		/* dkms knows the module by its dkms.conf: read it again with those names. */
		free(name);
		free(version);
		name = xstrdup(conf.package_name);
		version = xstrdup(conf.package_version);
		env.module = name;
		env.module_version = version;
		dkms_conf_release(&conf);
		r = dkms_read_conf(j, &env, &conf);
	}
	if (r >= 0)
		r = dkms_check(j, &conf);
	if (r >= 0)
		r = dkms_run_build(j, &conf, &env);
	if (r >= 0)
		r = dkms_collect(ctx, j, &conf, &env, dest_dir ? dest_dir : "updates/dkms");
	else
		r = ctx_error(ctx, r, "%s", err_msg());
	dkms_conf_release(&conf);
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(strs[i]);
	return r;
}

static int s_dkms_build(struct kld_ctx *ctx, const char *source_dir, const char *dest_dir)
{
	struct build_job *j = job_of(ctx, "dkms_build");
	struct sandbox_bind binds[2];
	char *hosts[2] = {NULL, NULL};
	size_t n = 0;
	int r;

	if (!j)
		return -EPERM;
	if (!source_dir || source_dir[0] != '/' || strstr(source_dir, "/../") ||
	    strchr(source_dir, '\'') || !strcmp(source_dir, "/"))
		return ctx_error(ctx, -EINVAL, "dkms_build(): bad source directory '%s'",
		                 source_dir);
	r = dkms_prepare(j, source_dir, binds, hosts, &n);
	if (r < 0) {
		r = ctx_error(ctx, r, "%s", err_msg());
	} else {
		j->extra = binds;
		j->n_extra = n;
		r = dkms_build_in(ctx, j, source_dir, dest_dir);
		j->extra = NULL;
		j->n_extra = 0;
	}
	free(hosts[0]);
	free(hosts[1]);
	return r;
}

const struct kld_build_service build_service = {
    .size = sizeof(struct kld_build_service),
    .kernel_release = s_kernel_release,
    .kernel_config = s_kernel_config,
    .read_file = s_read_file,
    .package_file = s_package_file,
    .dkms_build = s_dkms_build,
    .run = s_run,
    .add_module = s_add_module,
    .log_path = s_log_path,
};

/* ---- build roots from the lock ---- */

static int lock_kernels(const struct lock *lock, char ***out, size_t *n_out)
{
	size_t pl = strlen(LOCK_TAG_BUILD_PREFIX), n = 0;
	char **ks = NULL;

	for (size_t i = 0; i < lock->n_entries; i++) {
		_cleanup_free_ char *tags = xstrdup(lock->entries[i].tags);
		char *save = NULL;

		for (char *t = strtok_r(tags, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			size_t k;

			if (strncmp(t, LOCK_TAG_BUILD_PREFIX, pl))
				continue;
			for (k = 0; k < n && strcmp(ks[k], t + pl); k++)
				;
			if (k < n)
				continue;
			ks = realloc(ks, (n + 2) * sizeof(char *));
			if (!ks)
				abort();
			ks[n++] = xstrdup(t + pl);
			ks[n] = NULL;
		}
	}
	*out = ks;
	*n_out = n;
	return 0;
}

static int root_packages(const struct lock *lock, const struct cache *cache, const char *tag,
                         char ***paths, const char ***sums, size_t *n_paths,
                         char id[SHA256_HEX_LEN])
{
	struct hasher *h = hasher_new();
	char **v = xcalloc(lock->n_entries + 1, sizeof(char *));
	const char **s = xcalloc(lock->n_entries + 1, sizeof(char *));
	size_t n = 0;
	int r = 0;

	hasher_add_str(h, "kldload-build-root/1");
	for (size_t i = 0; i < lock->n_entries; i++) {
		const struct lock_entry *e = &lock->entries[i];

		if (!lock_entry_has_tag(e, tag))
			continue;
		if (r >= 0 && cache_check(cache, e->sha256, e->size) != 1)
			r = err_set(-ENOENT, "%s %s (for %s) is not in the cache %s", e->name,
			            e->version, tag, cache->dir);
		s[n] = e->sha256;
		v[n++] = lock_entry_path(cache, e);
		hasher_add_str(h, e->sha256);
	}
	hasher_final(h, id);
	*sums = s;
	*paths = v;
	*n_paths = n;
	return r;
}

static int fetch_missing(const struct lock *lock, const struct cache *cache, const char *tag)
{
	struct dl_opts opts;

	dl_opts_init(&opts);
	opts.what = "downloading build root";
	opts.cancelled = job_cancelled;
	return lock_fetch(lock, tag, cache, &opts, NULL);
}

static int prepare_root(const struct lock *lock, const struct cache *cache, const char *release,
                        struct kernel_root *kr)
{
	_cleanup_free_ char *tag = xasprintf("%s%s", LOCK_TAG_BUILD_PREFIX, release);
	char id[SHA256_HEX_LEN], **debs = NULL;
	const char **sums = NULL; /* the lock's, verified by root_packages() */
	size_t n = 0, len;
	int r = root_packages(lock, cache, tag, &debs, &sums, &n, id);

	if (r < 0) {
		strv_free(debs);
		free(sums);
		err_clear();
		if ((r = fetch_missing(lock, cache, tag)) < 0)
			return r;
		r = root_packages(lock, cache, tag, &debs, &sums, &n, id);
	}
	kr->release = xstrdup(release);
	kr->root_id = xstrdup(id);
	kr->root = xasprintf("%s/build-roots/%s", cache->dir, id);
	if (r >= 0 && !is_dir(kr->root)) {
		_cleanup_free_ char *unpacked = path_join(cache->dir, "unpacked");

		log_info(LOG_CAT, "laying out the build root for %s from %zu packages", release, n);
		r = mkdir_p(cache->dir, 0755);
		if (r >= 0)
			r = buildroot_create(kr->root, (const char *const *)debs, sums, n,
			                     unpacked);
	}
	strv_free(debs);
	free(sums);
	if (r >= 0) {
		/* The mount point of the dkms tree (roots laid out before it was made here lack it). */
		_cleanup_free_ char *tree = xasprintf("%s%s", kr->root, DKMS_TREE);

		r = mkdir_p(tree, 0755);
	}
	if (r >= 0)
		r = buildroot_kernel_config(kr->root, release, &kr->kconfig, &len);
	return r;
}

static void kernel_root_release(struct kernel_root *kr)
{
	free(kr->release);
	free(kr->root);
	free(kr->root_id);
	free(kr->kconfig);
}

/* ---- jobs ---- */

static char *module_dir_name(const char *instance)
{
	char *s = xstrdup(instance);

	for (char *p = s; *p; p++)
		if (*p == ':' || *p == '/')
			*p = '-';
	return s;
}

static int parse_source_url(const char *recipe, const char *need, struct source_url *out)
{
	const char *sp = strchr(need, ' ');
	const char *sha = sp ? sp + strspn(sp, " ") : NULL;
	size_t n = sha ? strlen(sha) : 0;

	if (!sp || n != SHA256_HEX_LEN - 1 || strspn(sha, "0123456789abcdefABCDEF") != n)
		return err_set(-KLD_E_CONFIG,
		               "recipe %s: source '%s' is not \"<url> <sha256>\" (64 hex digits)",
		               recipe, need);
	out->url = strndup(need, (size_t)(sp - need));
	if (!out->url)
		abort();
	if (strncmp(out->url, "http://", 7) && strncmp(out->url, "https://", 8) &&
	    strncmp(out->url, "file://", 7)) {
		free(out->url);
		return err_set(-KLD_E_CONFIG,
		               "recipe %s: source URL '%.*s' is not http, https or file", recipe,
		               (int)(sp - need), need);
	}
	for (size_t i = 0; i < n; i++)
		out->sha256[i] =
		    (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] - 'A' + 'a' : sha[i]);
	out->sha256[n] = '\0';
	return 0;
}

/* The recipe's source archives for this kernel: what its declare() says now. */
static int job_sources(struct build_job *j)
{
	struct runner *run = j->env->ctx->run;
	size_t first = run->n_needs;
	int r = host_declare(run, j->plugin, j->kernel->release, NULL);

	for (size_t i = first; i < run->n_needs && r >= 0; i++) {
		struct source_url *v;

		if (run->needs[i]->kind != KLD_NEED_SOURCE_URL)
			continue;
		v = realloc(j->sources, (j->n_sources + 1) * sizeof(*v));
		if (!v)
			abort();
		j->sources = v;
		r = parse_source_url(j->plugin->instance, run->needs[i]->package,
		                     &j->sources[j->n_sources]);
		if (r >= 0)
			j->n_sources++;
	}
	return r;
}

/* Download (or reuse, verified) the job's source archives and unpack them in its work tree. */
static int unpack_sources(struct build_job *j)
{
	_cleanup_free_ char *dir = host_path(j, KLD_BUILD_SOURCE_DIR);
	struct cache_item *items;
	struct dl_opts opts;
	int r;

	if (!j->n_sources)
		return 0;
	items = xcalloc(j->n_sources, sizeof(*items));
	for (size_t i = 0; i < j->n_sources; i++)
		items[i] = (struct cache_item){
		    .url = j->sources[i].url, .sha256 = j->sources[i].sha256, .size = -1};
	dl_opts_init(&opts);
	opts.what = "downloading sources";
	opts.cancelled = job_cancelled;
	r = cache_fetch(j->cache, items, j->n_sources, &opts, NULL);
	if (r >= 0)
		r = mkdir_p(dir, 0755);
	for (size_t i = 0; i < j->n_sources && r >= 0; i++) {
		dprintf(j->log_fd, "kldload: unpacking %s (sha256 %s) in %s\n", j->sources[i].url,
		        j->sources[i].sha256, KLD_BUILD_SOURCE_DIR);
		r = buildroot_unpack(dir, items[i].path);
	}
	if (r < 0)
		r = err_set(r, "source of %s: %s", j->plugin->instance, err_msg());
	cache_items_clear(items, j->n_sources);
	free(items);
	return r;
}

/* Every input of a (kernel, recipe) build. */
static int build_key(const struct build_job *j, char out[SHA256_HEX_LEN])
{
	const struct loaded_plugin *p = j->plugin;
	_cleanup_free_ char *prefix = xasprintf("%s.", p->desc.name);
	struct hasher *h = hasher_new();
	int r;

	hasher_add_str(h, BUILD_FORMAT);
	hasher_add_str(h, dkms_eval_script());
	hasher_add_str(h, dkms_build_script());
	hasher_add_str(h, j->kernel->release);
	hasher_add_str(h, j->kernel->root_id);
	hasher_add_str(h, j->arch);
	hasher_add_str(h, p->desc.name);
	hasher_add_str(h, p->desc.version);
	hasher_add_str(h, p->instance);
	for (size_t i = 0; i < j->n_sources; i++)
		hasher_add_str(h, j->sources[i].sha256);
	for (size_t i = 0; i < j->env->plan->n_items; i++) {
		const struct kv *kv = &j->env->plan->items[i];

		if (strncmp(kv->key, prefix, strlen(prefix)))
			continue;
		hasher_add_str(h, kv->key);
		hasher_add_str(h, kv->value);
	}
	r = hasher_add_file(h, p->path);
	hasher_final(h, out);
	return r;
}

static int init_job(struct build_job *j)
{
	const char *rel = j->kernel->release;
	const char *w = j->env->work_dir;
	char key[SHA256_HEX_LEN];
	int r = job_sources(j);

	if (r >= 0)
		r = build_key(j, key);
	if (r < 0)
		return r;
	j->module = module_dir_name(j->plugin->instance);
	j->key = xstrdup(key);
	j->work = xasprintf("%s/build-work/%s/%s", w, rel, j->module);
	j->log_path = xasprintf("%s/build-logs/%s/%s.log", w, rel, j->module);
	j->result = xasprintf("%s/%s/modules/%s", j->env->out_dir, rel, j->module);
	j->cached = xasprintf("%s/build-results/%s", j->cache->dir, key);
	j->log_fd = -1;
	return 0;
}

static void release_job(struct build_job *j)
{
	free(j->module);
	free(j->key);
	free(j->work);
	free(j->log_path);
	free(j->result);
	free(j->cached);
	free(j->error);
	for (size_t i = 0; i < j->n_sources; i++)
		free(j->sources[i].url);
	free(j->sources);
	if (j->log_fd >= 0)
		close(j->log_fd);
}

static int open_log(struct build_job *j)
{
	_cleanup_free_ char *dir = xstrdup(j->log_path);
	int r;

	*strrchr(dir, '/') = '\0';
	if ((r = mkdir_p(dir, 0755)) < 0)
		return r;
	j->log_fd = open(j->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (j->log_fd < 0)
		return err_set(-errno, "cannot create %s: %s", j->log_path, strerror(errno));
	dprintf(j->log_fd, "kldload %s: %s %s for kernel %s\n", KLDLOAD_VERSION,
	        j->plugin->instance, j->plugin->desc.version, j->kernel->release);
	return 0;
}

/* Store a finished result in the cache (best effort: a full disk must not fail the build). */
static void store_result(const struct build_job *j)
{
	_cleanup_free_ char *tmp =
	    xasprintf("%s.tmp-%ld-%p", j->cached, (long)getpid(), (const void *)j);
	_cleanup_free_ char *log = path_join(tmp, ".kldload-build.log");

	if (copy_tree(j->result, tmp) < 0 || copy_file(j->log_path, log) < 0 ||
	    rename(tmp, j->cached) < 0) {
		log_warn(LOG_CAT, "cannot store the result of %s in the cache: %s",
		         j->plugin->instance, err_msg());
		err_clear();
		rm_rf(tmp);
	}
}

static int restore_result(const struct build_job *j)
{
	_cleanup_free_ char *log = path_join(j->result, ".kldload-build.log");
	int r = copy_tree(j->cached, j->result);

	if (r >= 0)
		unlink(log);
	return r;
}

static int fail_job(struct build_job *j, int r)
{
	const char *why = j->plugin->ctx.error ? j->plugin->ctx.error : err_msg();
	_cleanup_free_ char *tail = build_log_tail(j->log_path, TAIL_LINES);

	if (r == -KLD_E_CANCELLED || stage_cancelled())
		return err_set(-KLD_E_CANCELLED, "build of %s interrupted", j->plugin->instance);
	if (*tail)
		log_error(LOG_CAT, "last lines of %s:\n%s", j->log_path, tail);
	rm_rf(j->result);
	return err_set(r, "%s for kernel %s: %s (log: %s)", j->plugin->instance, j->kernel->release,
	               *why ? why : err_str(r), j->log_path);
}

static int build_fresh(struct build_job *j)
{
	int r;

	rm_rf(j->work);
	rm_rf(j->result);
	if ((r = mkdir_p(j->work, 0755)) < 0 || (r = mkdir_p(j->result, 0755)) < 0 ||
	    (r = open_log(j)) < 0)
		return r;
	if ((r = unpack_sources(j)) < 0) {
		rm_rf(j->result);
		return r;
	}
	free(j->plugin->ctx.error);
	j->plugin->ctx.error = NULL;
	err_clear();
	current = j;
	r = j->plugin->ops.module.build(&j->plugin->ctx, j->plugin->ctx.state);
	current = NULL;
	if (r < 0)
		return fail_job(j, r);
	store_result(j);
	rm_rf(j->work);
	return 0;
}

static void run_job(struct build_job *j)
{
	if (is_dir(j->cached)) {
		log_info(LOG_CAT, "%s for %s: cached", j->plugin->instance, j->kernel->release);
		j->ret = restore_result(j);
	} else {
		log_info(LOG_CAT, "%s for %s: building (log: %s)", j->plugin->instance,
		         j->kernel->release, j->log_path);
		j->ret = build_fresh(j);
	}
	if (j->ret < 0)
		j->error = xstrdup(err_msg());
}

/* ---- the scheduler: pairs in parallel, never one recipe twice at once ---- */

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct build_job *jobs;
	size_t n;
	int failed;
};

static int plugin_busy(const struct queue *q, const struct loaded_plugin *p)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->jobs[i].state == 1 && q->jobs[i].plugin == p)
			return 1;
	return 0;
}

/* The next job to run, NULL when there is none left; waits while only busy recipes remain. */
static struct build_job *next_job(struct queue *q)
{
	for (;;) {
		int pending = 0;

		for (size_t i = 0; i < q->n && !q->failed; i++) {
			struct build_job *j = &q->jobs[i];

			if (j->state)
				continue;
			pending = 1;
			if (!plugin_busy(q, j->plugin)) {
				j->state = 1;
				return j;
			}
		}
		if (!pending || q->failed || stage_cancelled())
			return NULL;
		pthread_cond_wait(&q->cv, &q->mu);
	}
}

static void *worker(void *arg)
{
	struct queue *q = arg;
	struct build_job *j;

	pthread_mutex_lock(&q->mu);
	while ((j = next_job(q))) {
		pthread_mutex_unlock(&q->mu);
		run_job(j);
		pthread_mutex_lock(&q->mu);
		j->state = 2;
		if (j->ret < 0)
			q->failed = 1;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static int run_queue(struct queue *q, int jobs)
{
	size_t n = (size_t)jobs < q->n ? (size_t)jobs : q->n;
	pthread_t *t = xcalloc(n, sizeof(*t));
	size_t started = 0;

	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	for (size_t i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, q) == 0)
			started++;
	if (!started)
		worker(q);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	for (size_t i = 0; i < q->n; i++)
		if (q->jobs[i].ret < 0)
			return err_set(q->jobs[i].ret, "%s", q->jobs[i].error);
	return stage_cancelled() ? err_set(-KLD_E_CANCELLED, "build-modules interrupted") : 0;
}

/* ---- the stage ---- */

static int plan_jobs(const struct plan *plan)
{
	const char *s = plan_get(plan, "jobs");
	long n = s ? strtol(s, NULL, 10) : 0;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static int write_kernel_config(const struct stage_env *env, const struct kernel_root *kr)
{
	_cleanup_free_ char *dir = path_join(env->out_dir, kr->release);
	_cleanup_free_ char *path = path_join(dir, "kernel.config");
	int r = mkdir_p(dir, 0755);

	return r < 0 ? r : write_file_atomic(path, kr->kconfig, strlen(kr->kconfig), 0644);
}

static int load_inputs(const struct stage_env *env, struct lock *lock, struct cache *cache)
{
	_cleanup_free_ char *dir = stage_env_dir(env, "resolve");
	_cleanup_free_ char *path = dir ? path_join(dir, LOCK_FILE_NAME) : NULL;
	int r;

	if (!path || !path_exists(path))
		return err_set(-ENOENT, "build-modules needs the lock of the resolve stage (%s/%s)",
		               dir ? dir : "<work>/resolve", LOCK_FILE_NAME);
	if ((r = lock_load(path, lock)) < 0)
		return r;
	return cache_open(cache, plan_get(env->plan, "cache_dir"));
}

static size_t module_plugins(const struct stage_env *env, struct loaded_plugin ***out)
{
	struct runner *run = env->ctx->run;
	size_t n = 0;

	*out = xcalloc(run->n_plugins + 1, sizeof(**out));
	for (size_t i = 0; i < run->n_plugins; i++)
		if (run->plugins[i]->desc.kind == KLD_KIND_MODULE &&
		    run->plugins[i]->ops.module.build)
			(*out)[n++] = run->plugins[i];
	return n;
}

static int build_all(const struct stage_env *env, struct kernel_root *krs, size_t n_k,
                     const struct cache *cache)
{
	struct loaded_plugin **mods = NULL;
	size_t n_m = module_plugins(env, &mods);
	struct queue q = {.jobs = xcalloc(n_k * n_m + 1, sizeof(struct build_job))};
	const char *arch = build_uname_arch(plan_get(env->plan, "arch"));
	int jobs = plan_jobs(env->plan), r = 0;

	for (size_t k = 0; k < n_k && r >= 0; k++)
		for (size_t m = 0; m < n_m && r >= 0; m++) {
			struct build_job *j = &q.jobs[q.n++];

			*j = (struct build_job){.plugin = mods[m],
			                        .kernel = &krs[k],
			                        .env = env,
			                        .cache = cache,
			                        .arch = arch,
			                        .jobs = jobs};
			r = init_job(j);
		}
	if (r >= 0 && q.n)
		r = run_queue(&q, jobs);
	for (size_t i = 0; i < q.n; i++)
		release_job(&q.jobs[i]);
	free(q.jobs);
	free(mods);
	return r;
}

int stage_build_modules(const struct stage_env *env)
{
	struct lock lock = {0};
	struct cache cache = {0};
	struct kernel_root *krs = NULL;
	char **kernels = NULL;
	size_t n_k = 0;
	int r = load_inputs(env, &lock, &cache);

	if (r >= 0)
		r = lock_kernels(&lock, &kernels, &n_k);
	if (r >= 0 && !n_k)
		r = err_set(-ENOENT, "the lock names no build root (no \"%s<kernel>\" tag)",
		            LOCK_TAG_BUILD_PREFIX);
	if (r >= 0)
		r = mkdir_p(env->out_dir, 0755);
	krs = xcalloc(n_k + 1, sizeof(*krs));
	for (size_t i = 0; i < n_k && r >= 0; i++) {
		r = prepare_root(&lock, &cache, kernels[i], &krs[i]);
		if (r >= 0)
			r = write_kernel_config(env, &krs[i]);
	}
	if (r >= 0)
		r = build_all(env, krs, n_k, &cache);
	for (size_t i = 0; i < n_k; i++)
		kernel_root_release(&krs[i]);
	free(krs);
	strv_free(kernels);
	lock_clear(&lock);
	cache_release(&cache);
	return r;
}
