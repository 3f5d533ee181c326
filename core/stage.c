/* SPDX-License-Identifier: MIT */
/* The stage runner: runs the stages in order, each to a temporary directory renamed on success. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "log.h"
#include "runner.h"
#include "build.h"
#include "sign.h"
#include "stage.h"
#include "util.h"

static const char *const stage_names[STAGE_COUNT] = {
    [STAGE_FETCH] = "fetch", [STAGE_RESOLVE] = "resolve",   [STAGE_BUILD_MODULES] = "build-modules",
    [STAGE_SIGN] = "sign",   [STAGE_ASSEMBLE] = "assemble", [STAGE_BOOT_CONFIG] = "boot-config",
};

/* Stages the core implements itself; NULL where a plugin implements it or nothing does yet. */
static const core_stage_fn core_stages[STAGE_COUNT] = {
    [STAGE_BUILD_MODULES] = stage_build_modules,
    [STAGE_SIGN] = stage_sign,
};

/* What core stages depend on beyond the plan, the plugins and the previous stage's output. */
static int (*const core_stage_inputs[STAGE_COUNT])(const struct plan *plan, struct hasher *h) = {
    [STAGE_SIGN] = stage_sign_inputs,
};

/* Plan keys that say where or how fast, not what: they do not change a stage's result. */
static const char *const unhashed_keys[] = {"jobs",  "work_dir", "cache_dir",   "output",
                                            "stage", "force",    "plugin_path", "dry_run"};

static volatile sig_atomic_t interrupted;

const char *stage_name(enum stage_id id)
{
	return id < STAGE_COUNT ? stage_names[id] : "?";
}

int stage_by_name(const char *name)
{
	for (int i = 0; i < STAGE_COUNT; i++)
		if (strcmp(stage_names[i], name) == 0)
			return i;
	return -1;
}

int stage_cancelled(void)
{
	return interrupted != 0;
}

static void on_signal(int sig)
{
	interrupted = sig;
	/* A second signal ends the process at once; the next run removes what it left. */
	signal(sig, SIG_DFL);
}

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

char *stage_env_dir(const struct stage_env *env, const char *stage)
{
	_cleanup_free_ char *dir = NULL;

	if (stage_by_name(stage) < 0)
		return NULL;
	dir = path_join(env->work_dir, stage);
	return is_dir(dir) ? TAKE_PTR(dir) : NULL;
}

static int hash_excluded(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(unhashed_keys); i++)
		if (strcmp(unhashed_keys[i], key) == 0)
			return 1;
	return 0;
}

/* ---- stamps ---- */

struct stamp {
	char input[SHA256_HEX_LEN];
	char output[SHA256_HEX_LEN];
	struct publication *pubs;
	size_t n_pubs;
};

static void pubs_free(struct publication *pubs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pubs[i].label);
		free(pubs[i].path);
	}
	free(pubs);
}

static char *stamp_path(const struct runner *run, int id)
{
	return xasprintf("%s/%s.stamp", run->work_dir, stage_names[id]);
}

static int stamp_read(const struct runner *run, int id, struct stamp *st)
{
	_cleanup_free_ char *path = stamp_path(run, id), *data = NULL;
	char *save = NULL;

	memset(st, 0, sizeof(*st));
	if (read_file(path, &data, NULL) < 0)
		return -ENOENT;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *label, *rel;
		if (sscanf(line, "input %64s", st->input) == 1 ||
		    sscanf(line, "output %64s", st->output) == 1)
			continue;
		/* "publish LABEL PATH": labels have no spaces, the path is the rest of the line. */
		if (strncmp(line, "publish ", 8) != 0 || !(rel = strchr(line + 8, ' ')))
			continue;
		label = line + 8;
		*rel++ = '\0';
		st->pubs = realloc(st->pubs, (st->n_pubs + 1) * sizeof(*st->pubs));
		if (!st->pubs)
			abort();
		st->pubs[st->n_pubs].label = xstrdup(label);
		st->pubs[st->n_pubs++].path = xstrdup(rel);
	}
	return strlen(st->input) == 64 && strlen(st->output) == 64 ? 0 : -EINVAL;
}

static int stamp_write(const struct runner *run, int id, const struct stamp *st)
{
	_cleanup_free_ char *path = stamp_path(run, id), *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return err_set(-ENOMEM, "out of memory");
	fprintf(f, "input %s\noutput %s\n", st->input, st->output);
	for (size_t i = 0; i < st->n_pubs; i++)
		fprintf(f, "publish %s %s\n", st->pubs[i].label, st->pubs[i].path);
	fclose(f);
	return write_file_atomic(path, text, len, 0644);
}

/* ---- what implements a stage ---- */

typedef int (*plugin_op)(struct kld_ctx *ctx, void *state);

static plugin_op distro_op(const struct loaded_plugin *p, int id)
{
	switch (id) {
	case STAGE_FETCH:
		return p->ops.distro.fetch;
	case STAGE_RESOLVE:
		return p->ops.distro.resolve;
	case STAGE_ASSEMBLE:
		return p->ops.distro.assemble;
	case STAGE_BOOT_CONFIG:
		return p->ops.distro.boot_config;
	default:
		return NULL;
	}
}

static plugin_op plugin_stage_op(const struct loaded_plugin *p, int id)
{
	if (p->desc.kind == KLD_KIND_DISTRO)
		return distro_op(p, id);
	if (p->desc.kind == KLD_KIND_MODULE && id == STAGE_BUILD_MODULES)
		return p->ops.module.build;
	return NULL;
}

static int plugin_takes_part(const struct loaded_plugin *p, int id)
{
	if (id == STAGE_BUILD_MODULES)
		return p->desc.kind == KLD_KIND_MODULE;
	return p->desc.kind == KLD_KIND_DISTRO && id != STAGE_SIGN;
}

static int check_implemented(const struct runner *run, int id)
{
	if (id == STAGE_SIGN) {
		if (!core_stages[id])
			return err_set(-KLD_E_NOTIMPL,
			               "stage '%s' is not implemented in kldload %s yet",
			               stage_names[id], KLDLOAD_VERSION);
		return 0;
	}
	for (size_t i = 0; i < run->n_plugins; i++) {
		const struct loaded_plugin *p = run->plugins[i];
		if (plugin_takes_part(p, id) && !plugin_stage_op(p, id))
			return err_set(
			    -KLD_E_NOTIMPL,
			    "stage '%s' is not implemented by the %s plugin '%s' %s (%s)",
			    stage_names[id], plugin_kind_name(p->desc.kind), p->instance,
			    p->desc.version, p->path);
	}
	return 0;
}

/* ---- input hash ---- */

/* Plan values that name files whose contents are inputs of every stage. */
static const char *const file_keys[] = {"lock", "keyring"};

static int input_hash(struct runner *run, int id, const char *prev_output, char out[SHA256_HEX_LEN])
{
	struct hasher *h = hasher_new();

	hasher_add_str(h, "kldload-stage/1");
	hasher_add_str(h, stage_names[id]);
	hasher_add_str(h, KLDLOAD_VERSION);
	for (size_t i = 0; i < run->plan.n_items; i++) {
		const struct kv *kv = &run->plan.items[i];
		if (hash_excluded(kv->key))
			continue;
		hasher_add_str(h, kv->key);
		hasher_add_str(h, kv->value);
	}
	/* Files named by the plan are inputs by their contents: a lock edited in place is new. */
	for (size_t i = 0; i < ARRAY_SIZE(file_keys); i++) {
		const char *path = plan_get(&run->plan, file_keys[i]);
		int r;

		if (!path || !path_exists(path))
			continue;
		hasher_add_str(h, file_keys[i]);
		r = hasher_add_file(h, path);
		if (r < 0) {
			char discard[SHA256_HEX_LEN];
			hasher_final(h, discard);
			return r;
		}
	}
	for (size_t i = 0; i < run->n_plugins; i++) {
		const struct loaded_plugin *p = run->plugins[i];
		int r;
		if (!plugin_takes_part(p, id))
			continue;
		hasher_add_str(h, p->instance);
		hasher_add_str(h, p->desc.version);
		r = hasher_add_file(h, p->path);
		if (r < 0) {
			char discard[SHA256_HEX_LEN];
			hasher_final(h, discard);
			return r;
		}
	}
	hasher_add_str(h, prev_output ? prev_output : "");
	if (core_stage_inputs[id]) {
		int r = core_stage_inputs[id](&run->plan, h);
		if (r < 0) {
			char discard[SHA256_HEX_LEN];
			hasher_final(h, discard);
			return r;
		}
	}
	hasher_final(h, out);
	return 0;
}

/* ---- running one stage ---- */

static int report_plugin_failure(struct loaded_plugin *p, int id, int r)
{
	const char *msg = p->ctx.error ? p->ctx.error : err_str(r);

	if (r == -KLD_E_CANCELLED || stage_cancelled())
		return err_set(-KLD_E_CANCELLED, "stage '%s' interrupted", stage_names[id]);
	return err_set(r, "%s: %s", p->instance, msg);
}

static int run_plugins(struct runner *run, int id)
{
	for (size_t i = 0; i < run->n_plugins; i++) {
		struct loaded_plugin *p = run->plugins[i];
		plugin_op op = plugin_stage_op(p, id);
		int r;

		if (!plugin_takes_part(p, id) || !op)
			continue;
		free(p->ctx.error);
		p->ctx.error = NULL;
		log_info(stage_names[id], "running %s", p->instance);
		r = op(&p->ctx, p->ctx.state);
		if (r < 0)
			return report_plugin_failure(p, id, r);
		if (stage_cancelled())
			return err_set(-KLD_E_CANCELLED, "stage '%s' interrupted", stage_names[id]);
	}
	return 0;
}

static int run_core_stage(struct runner *run, int id)
{
	struct stage_env env = {
	    .plan = &run->plan,
	    .stage = stage_names[id],
	    .out_dir = run->stage_tmp,
	    .work_dir = run->work_dir,
	    .ctx = &run->core_ctx,
	};
	int r;

	free(run->core_ctx.error);
	run->core_ctx.error = NULL;
	run->core_ctx.name = stage_names[id];
	r = core_stages[id](&env);
	if (r < 0 && stage_cancelled())
		return err_set(-KLD_E_CANCELLED, "stage '%s' interrupted", stage_names[id]);
	if (r < 0 && run->core_ctx.error)
		return err_set(r, "%s", run->core_ctx.error);
	return r;
}

static int copy_file_atomic(const char *src, const char *dst)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	struct stat st;
	int r;

	if (stat(src, &st) < 0)
		return err_set(-errno, "cannot publish %s: %s", src, strerror(errno));
	r = read_file(src, &data, &len);
	if (r < 0)
		return r;
	return write_file_atomic(dst, data, len, st.st_mode & 0777);
}

static int publish_all(struct runner *run, int id, const struct publication *pubs, size_t n)
{
	int r = n ? mkdir_p(run->output_dir, 0755) : 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		_cleanup_free_ char *src = path_join(run->stage_paths[id], pubs[i].path);
		const char *base = strrchr(pubs[i].path, '/');
		_cleanup_free_ char *dst =
		    path_join(run->output_dir, base ? base + 1 : pubs[i].path);

		r = copy_file_atomic(src, dst);
		if (r == 0) {
			run->results = realloc(run->results, (run->n_results + 1) * sizeof(char *));
			if (!run->results)
				abort();
			run->results[run->n_results++] = xasprintf("%s: %s", pubs[i].label, dst);
		}
	}
	return r;
}

/* Put the temporary output in place of the stage's directory, then stamp it. */
static int commit_stage(struct runner *run, int id, struct stamp *st)
{
	const char *final = run->stage_paths[id];
	_cleanup_free_ char *old =
	    xasprintf("%s/.%s.old-%ld", run->work_dir, stage_names[id], (long)getpid());
	_cleanup_free_ char *stamp = stamp_path(run, id);
	struct hasher *h = hasher_new();
	int r = hasher_add_tree(h, run->stage_tmp);

	hasher_final(h, st->output);
	if (r < 0)
		return r;
	unlink(stamp);
	if (is_dir(final) && rename(final, old) < 0)
		return err_set(-errno, "cannot replace %s: %s", final, strerror(errno));
	if (rename(run->stage_tmp, final) < 0)
		return err_set(-errno, "cannot rename %s to %s: %s", run->stage_tmp, final,
		               strerror(errno));
	rm_rf(old);
	st->pubs = run->pubs;
	st->n_pubs = run->n_pubs;
	r = stamp_write(run, id, st);
	st->pubs = NULL;
	st->n_pubs = 0;
	return r;
}

static void clear_pubs(struct runner *run)
{
	pubs_free(run->pubs, run->n_pubs);
	run->pubs = NULL;
	run->n_pubs = 0;
}

static int execute_stage(struct runner *run, int id, struct stamp *st)
{
	_cleanup_free_ char *stamp = stamp_path(run, id);
	int r;

	/*
	 * The output of an earlier run stays until this run replaces it, but without its stamp, so
	 * that if this run fails, is interrupted or is killed, no later stage takes that output for
	 * the result of this run's inputs: it asks for this stage to run again.
	 */
	if (unlink(stamp) < 0 && errno != ENOENT)
		return err_set(-errno, "cannot remove %s: %s", stamp, strerror(errno));
	run->stage_tmp =
	    xasprintf("%s/.%s.tmp-%ld", run->work_dir, stage_names[id], (long)getpid());
	r = mkdir_p(run->stage_tmp, 0755);
	if (r == 0) {
		run->stage = id;
		r = core_stages[id] ? run_core_stage(run, id) : run_plugins(run, id);
		run->stage = -1;
	}
	if (r == 0 && stage_cancelled())
		r = err_set(-KLD_E_CANCELLED, "stage '%s' interrupted", stage_names[id]);
	if (r == 0)
		r = commit_stage(run, id, st);
	if (r == 0)
		r = publish_all(run, id, run->pubs, run->n_pubs);
	rm_rf(run->stage_tmp);
	free(run->stage_tmp);
	run->stage_tmp = NULL;
	clear_pubs(run);
	return r;
}

static int run_stage(struct runner *run, int id, const char *prev_output, int force,
                     char out_hash[SHA256_HEX_LEN])
{
	struct stamp old = {0}, st = {0};
	int r = check_implemented(run, id);

	if (r < 0)
		return r;
	r = input_hash(run, id, prev_output, st.input);
	if (r < 0)
		return r;
	if (!force && stamp_read(run, id, &old) == 0 && strcmp(old.input, st.input) == 0 &&
	    is_dir(run->stage_paths[id])) {
		log_info(stage_names[id], "up to date, skipped");
		memcpy(out_hash, old.output, SHA256_HEX_LEN);
		r = publish_all(run, id, old.pubs, old.n_pubs);
		pubs_free(old.pubs, old.n_pubs);
		return r;
	}
	pubs_free(old.pubs, old.n_pubs);
	log_info(stage_names[id], "running");
	r = execute_stage(run, id, &st);
	if (r == 0)
		memcpy(out_hash, st.output, SHA256_HEX_LEN);
	return r;
}

/* ---- the work directory ---- */

static int lock_work_dir(const char *work_dir, int *ret_fd)
{
	_cleanup_free_ char *path = path_join(work_dir, ".lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return err_set(-errno, "cannot create %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return err_set(-EBUSY, "work directory %s is in use by another kldload", work_dir);
	}
	*ret_fd = fd;
	return 0;
}

/* Leftovers of a run that was killed: temporary and replaced stage directories. */
static void remove_leftovers(const char *work_dir)
{
	DIR *d = opendir(work_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.' ||
		    !(strstr(e->d_name, ".tmp-") || strstr(e->d_name, ".old-")))
			continue;
		_cleanup_free_ char *path = path_join(work_dir, e->d_name);
		log_debug("core", "removing leftover %s", path);
		rm_rf(path);
	}
	closedir(d);
}

static int previous_output(struct runner *run, int id, char out[SHA256_HEX_LEN])
{
	struct stamp st;

	if (id == 0) {
		out[0] = '\0';
		return 0;
	}
	if (stamp_read(run, id - 1, &st) < 0 || !is_dir(run->stage_paths[id - 1]))
		return err_set(
		    -ENOENT,
		    "stage '%s' needs the output of stage '%s', which has not run in %s; run it first (--stage %s..%s)",
		    stage_names[id], stage_names[id - 1], run->work_dir, stage_names[id - 1],
		    stage_names[id]);
	pubs_free(st.pubs, st.n_pubs);
	memcpy(out, st.output, SHA256_HEX_LEN);
	return 0;
}

static void runner_release(struct runner *run)
{
	for (size_t i = 0; i < run->n_needs; i++) {
		free((char *)run->needs[i]->module);
		free((char *)run->needs[i]->package);
		free(run->needs[i]);
	}
	free(run->needs);
	for (size_t i = 0; i < run->n_need_arrays; i++)
		free(run->need_arrays[i]);
	free(run->need_arrays);
	for (size_t i = 0; i < run->n_results; i++)
		free(run->results[i]);
	free(run->results);
	for (int i = 0; i < STAGE_COUNT; i++)
		free(run->stage_paths[i]);
	free(run->core_ctx.error);
	plan_release(&run->plan);
	free(run->work_dir);
	free(run->output_dir);
}

static void runner_init(struct runner *run, const struct runner_opts *opts)
{
	memset(run, 0, sizeof(*run));
	for (size_t i = 0; i < opts->plan->n_items; i++)
		plan_set(&run->plan, opts->plan->items[i].key, opts->plan->items[i].value,
		         opts->plan->items[i].origin);
	run->plugins = opts->plugins;
	run->n_plugins = opts->n_plugins;
	run->work_dir = xstrdup(plan_get(opts->plan, "work_dir"));
	run->output_dir = xstrdup(plan_get(opts->plan, "output"));
	run->stage = -1;
	run->core_ctx.run = run;
	for (int i = 0; i < STAGE_COUNT; i++)
		run->stage_paths[i] = path_join(run->work_dir, stage_names[i]);
}

static int run_range(struct runner *run, const struct runner_opts *opts)
{
	char hash[SHA256_HEX_LEN];
	int r = 0;

	/* Refuse a range with a missing implementation before doing any of its work. */
	for (int id = opts->first; r == 0 && id <= opts->last; id++)
		r = check_implemented(run, id);
	if (r == 0)
		r = previous_output(run, opts->first, hash);

	for (size_t i = 0; r == 0 && i < run->n_plugins; i++)
		r = plugin_open(run->plugins[i], run);
	for (int id = opts->first; r == 0 && id <= opts->last; id++) {
		char out[SHA256_HEX_LEN];
		r = run_stage(run, id, hash[0] ? hash : NULL, opts->force, out);
		memcpy(hash, out, sizeof(hash));
	}
	return r;
}

int runner_run(const struct runner_opts *opts)
{
	struct runner run;
	_cleanup_close_ int lock_fd = -1;
	int r;

	runner_init(&run, opts);
	install_signals();
	r = mkdir_p(run.work_dir, 0755);
	if (r == 0)
		r = lock_work_dir(run.work_dir, &lock_fd);
	if (r == 0) {
		remove_leftovers(run.work_dir);
		r = run_range(&run, opts);
	}
	for (size_t i = 0; r == 0 && i < run.n_results; i++)
		printf("%s\n", run.results[i]);
	fflush(stdout);
	/* Plugins hold pointers into this run until they are closed. */
	for (size_t i = 0; i < run.n_plugins; i++) {
		struct loaded_plugin *p = run.plugins[i];
		if (p->opened && p->desc.close)
			p->desc.close(&p->ctx, p->ctx.state);
		p->opened = 0;
	}
	runner_release(&run);
	return r;
}
