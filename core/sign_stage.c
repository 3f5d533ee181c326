/* SPDX-License-Identifier: MIT */
/*
 * The sign stage: every module build-modules made, signed for its kernel with the hash that
 * kernel was configured for, then compressed the way that kernel compresses its own modules.
 *
 *   in:  <build-modules>/<release>/kernel.config
 *        <build-modules>/<release>/modules/<module>/<path under /lib/modules/<release>>.ko
 *   out: the same layout (.ko, or .ko.xz/.ko.zst/.ko.gz), plus signing-cert.pem/.der at the top
 */
#include "sign.h"

#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "keys.h"
#include "log.h"
#include "util.h"

#define LOG_CAT "sign"

/* One module to sign: read src, write dst (with the compression suffix). */
struct sign_job {
	char *src;
	char *dst;
};

struct sign_run {
	const struct stage_env *env;
	struct sign_key *key;
	struct kernel_sig_config cfg;
	const char *release;
	unsigned flags;
	int threads;
	/* the current release's modules, and the workers' shared state */
	struct sign_job *jobs;
	size_t n_jobs, cap_jobs;
	size_t next;     /* next job to take, under lock */
	int error;       /* first failure, under lock */
	char *error_msg; /* its message (err_msg() is per thread) */
	pthread_mutex_t lock;
};

/* ---- the kernel's configuration ---- */

static const char *config_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) != 0 || line[n] != '=')
		return NULL;
	return line + n + 1;
}

static void config_line(const char *line, struct kernel_sig_config *cfg)
{
	static const struct {
		const char *name;
		enum module_compress c;
	} compress[] = {{"CONFIG_MODULE_COMPRESS_GZIP", MODULE_COMPRESS_GZIP},
	                {"CONFIG_MODULE_COMPRESS_XZ", MODULE_COMPRESS_XZ},
	                {"CONFIG_MODULE_COMPRESS_ZSTD", MODULE_COMPRESS_ZSTD}};
	const char *v;

	if ((v = config_value(line, "CONFIG_MODULE_SIG")))
		cfg->module_sig = strcmp(v, "y") == 0;
	else if ((v = config_value(line, "CONFIG_MODULE_SIG_HASH"))) {
		size_t n = strlen(v);

		if (n >= 2 && v[0] == '"' && v[n - 1] == '"' && n - 2 < sizeof(cfg->hash)) {
			memcpy(cfg->hash, v + 1, n - 2);
			cfg->hash[n - 2] = 0;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(compress); i++)
		if ((v = config_value(line, compress[i].name)) && strcmp(v, "y") == 0)
			cfg->compress = compress[i].c;
}

int kernel_sig_config_parse(const char *text, const char *name, struct kernel_sig_config *cfg)
{
	struct kernel_sig_config c = {0};
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = 0;
			config_line(line, &c);
		}
		p += n + (nl ? 1 : 0);
	}
	if (!c.module_sig)
		return err_set(-KLD_E_UNSUPPORTED,
		               "%s: the kernel is configured without module signatures "
		               "(CONFIG_MODULE_SIG is not set)",
		               name);
	if (!c.hash[0])
		return err_set(-KLD_E_UNSUPPORTED, "%s: CONFIG_MODULE_SIG_HASH is not set", name);
	*cfg = c;
	return 0;
}

int kernel_sig_config_read(const char *path, struct kernel_sig_config *cfg)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file(path, &text, &len);

	if (r < 0)
		return r;
	return kernel_sig_config_parse(text, path, cfg);
}

/* ---- files ---- */

/* Plain write: the stage's output directory is temporary and renamed only on success. */
static int write_out(const char *path, const void *data, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = data;

	if (fd < 0)
		return err_set(-errno, "cannot create %s: %s", path, strerror(errno));
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_set(-errno, "cannot write %s: %s", path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int copy_out(const char *src, const char *dst)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file(src, &data, &len);

	return r < 0 ? r : write_out(dst, data, len);
}

/* Strip a compression suffix from a module name: "x.ko.xz" -> length of "x.ko"; 0 if no module. */
static size_t module_stem(const char *name)
{
	static const char *const exts[] = {".ko", ".ko.xz", ".ko.zst", ".ko.gz"};
	size_t n = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		size_t e = strlen(exts[i]);

		if (n > e && strcmp(name + n - e, exts[i]) == 0)
			return n - e + 3;
	}
	return 0;
}

static int sign_one(const struct sign_run *run, const struct sign_job *job)
{
	_cleanup_free_ char *raw = NULL;
	_cleanup_free_ uint8_t *plain = NULL, *signed_ = NULL, *packed = NULL;
	size_t raw_len, plain_len, signed_len, packed_len;
	int r = read_file(job->src, &raw, &raw_len);

	if (r < 0)
		return r;
	r = module_decompress((uint8_t *)raw, raw_len, job->src, &plain, &plain_len);
	if (r >= 0)
		r = sign_module(run->key, run->cfg.hash, job->src, plain, plain_len, run->flags,
		                &signed_, &signed_len);
	if (r >= 0)
		r = module_compress(run->cfg.compress, signed_, signed_len, &packed, &packed_len);
	if (r >= 0)
		r = write_out(job->dst, packed, packed_len);
	return r;
}

static void add_job(struct sign_run *run, const char *src, const char *dst_dir, const char *name)
{
	struct sign_job *j;

	if (run->n_jobs == run->cap_jobs) {
		run->cap_jobs = run->cap_jobs ? run->cap_jobs * 2 : 256;
		run->jobs = realloc(run->jobs, run->cap_jobs * sizeof(*run->jobs));
		if (!run->jobs)
			abort();
	}
	j = &run->jobs[run->n_jobs++];
	j->src = xstrdup(src);
	j->dst = xasprintf("%s/%.*s%s", dst_dir, (int)module_stem(name), name,
	                   module_compress_ext(run->cfg.compress));
}

static void jobs_clear(struct sign_run *run)
{
	for (size_t i = 0; i < run->n_jobs; i++) {
		free(run->jobs[i].src);
		free(run->jobs[i].dst);
	}
	run->n_jobs = 0;
	run->next = 0;
}

/* A worker: takes jobs until none is left, a job failed, or the run is cancelled. */
static void *worker(void *arg)
{
	struct sign_run *run = arg;

	for (;;) {
		const struct sign_job *job = NULL;
		int r;

		pthread_mutex_lock(&run->lock);
		if (!run->error && !stage_cancelled() && run->next < run->n_jobs)
			job = &run->jobs[run->next++];
		pthread_mutex_unlock(&run->lock);
		if (!job)
			return NULL;
		r = sign_one(run, job);
		if (r < 0) {
			pthread_mutex_lock(&run->lock);
			if (!run->error) {
				run->error = r;
				run->error_msg = xstrdup(err_msg());
			}
			pthread_mutex_unlock(&run->lock);
		}
	}
}

static int run_jobs(struct sign_run *run)
{
	size_t n = (size_t)run->threads < run->n_jobs ? (size_t)run->threads : run->n_jobs;
	pthread_t *tids = xcalloc(n ? n : 1, sizeof(*tids));
	size_t started = 0;

	run->error = 0;
	for (; started + 1 < n; started++)
		if (pthread_create(&tids[started], NULL, worker, run) != 0)
			break;
	worker(run); /* the stage's own thread works too */
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	if (run->error) {
		int r = err_set(run->error, "%s", run->error_msg);

		free(run->error_msg);
		run->error_msg = NULL;
		return r;
	}
	return stage_cancelled() ? err_set(-KLD_E_CANCELLED, "sign stage interrupted") : 0;
}

static int walk(struct sign_run *run, const char *src_dir, const char *dst_dir);

static int walk_entry(struct sign_run *run, const char *src_dir, const char *dst_dir,
                      const char *name)
{
	_cleanup_free_ char *src = path_join(src_dir, name);
	_cleanup_free_ char *dst = path_join(dst_dir, name);
	struct stat st;

	if (lstat(src, &st) < 0)
		return err_set(-errno, "cannot read %s: %s", src, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return err_set(-errno, "cannot create %s: %s", dst, strerror(errno));
		return walk(run, src, dst);
	}
	if (!S_ISREG(st.st_mode))
		return err_set(-EINVAL, "%s is neither a file nor a directory", src);
	if (module_stem(name)) {
		add_job(run, src, dst_dir, name);
		return 0;
	}
	return copy_out(src, dst);
}

static int walk(struct sign_run *run, const char *src_dir, const char *dst_dir)
{
	struct dirent **ents = NULL;
	int n = scandir(src_dir, &ents, NULL, alphasort), r = 0;

	if (n < 0)
		return err_set(-errno, "cannot list %s: %s", src_dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (r >= 0 && stage_cancelled())
			r = -KLD_E_CANCELLED;
		if (r >= 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
			r = walk_entry(run, src_dir, dst_dir, name);
		free(ents[i]);
	}
	free(ents);
	return r;
}

static int sign_release(struct sign_run *run, const char *in_dir)
{
	_cleanup_free_ char *src = path_join(in_dir, run->release);
	_cleanup_free_ char *dst = path_join(run->env->out_dir, run->release);
	_cleanup_free_ char *config = path_join(src, "kernel.config");
	_cleanup_free_ char *config_out = path_join(dst, "kernel.config");
	_cleanup_free_ char *mods = path_join(src, "modules");
	_cleanup_free_ char *mods_out = path_join(dst, "modules");
	int r = kernel_sig_config_read(config, &run->cfg);

	if (r < 0)
		return r;
	r = mkdir_p(mods_out, 0755);
	if (r >= 0)
		r = copy_out(config, config_out);
	if (r >= 0 && is_dir(mods))
		r = walk(run, mods, mods_out);
	if (r >= 0)
		r = run_jobs(run);
	if (r >= 0)
		log_info(LOG_CAT, "%s: %zu module(s) signed with %s%s%s", run->release, run->n_jobs,
		         run->cfg.hash, run->cfg.compress ? ", compressed as " : "",
		         module_compress_ext(run->cfg.compress));
	return r;
}

/* ---- keys ---- */

static int resolve_key(const struct plan *plan, char **key_ref, char **cert_ref)
{
	const char *k = plan_get(plan, "sign_key"), *c = plan_get(plan, "sign_cert");
	_cleanup_free_ char *dir = NULL, *der = NULL;
	int created = 0, r;

	if (k) {
		*key_ref = xstrdup(k);
		*cert_ref = c ? xstrdup(c) : NULL;
		return 0;
	}
	if (c)
		return err_set(-KLD_E_CONFIG, "sign_cert is set (%s) but sign_key is not", c);
	r = keys_ensure_default(key_ref, cert_ref, &created);
	if (r < 0)
		return r;
	dir = keys_default_dir();
	der = path_join(dir, KEYS_CERT_DER_FILE);
	log_warn(
	    LOG_CAT,
	    "%s module signing key %s; the target trusts these modules only once its "
	    "certificate is enrolled: run `mokutil --import %s` there and confirm in MokManager "
	    "at the next boot (or set sign_key and sign_cert)",
	    created ? "made a new" : "using the per-user", *key_ref, der);
	return 0;
}

static int hash_if_file(struct hasher *h, const char *path)
{
	if (!path || strncmp(path, "pkcs11:", 7) == 0 || !path_exists(path)) {
		hasher_add_str(h, path ? path : "");
		return 0;
	}
	return hasher_add_file(h, path);
}

int stage_sign_inputs(const struct plan *plan, struct hasher *h)
{
	const char *k = plan_get(plan, "sign_key"), *c = plan_get(plan, "sign_cert");
	_cleanup_free_ char *dir = NULL, *pem = NULL;

	if (c)
		return hash_if_file(h, c);
	if (k && strncmp(k, "pkcs11:", 7) != 0) {
		/* The certificate may sit in the key file: hash the key's public half only. */
		X509 *cert = NULL;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		int ok = keys_read_cert(k, &cert) == 0 && X509_digest(cert, EVP_sha256(), md, &n);

		X509_free(cert);
		err_clear();
		if (ok)
			hasher_add(h, md, n);
		return 0;
	}
	if (k)
		return 0; /* a token's URI: the plan, which is hashed already, names it */
	dir = keys_default_dir();
	pem = path_join(dir, KEYS_CERT_PEM_FILE);
	return hash_if_file(h, pem);
}

static int write_certs(const char *out_dir, X509 *cert)
{
	_cleanup_free_ char *pem = path_join(out_dir, KEYS_CERT_PEM_FILE);
	_cleanup_free_ char *der = path_join(out_dir, KEYS_CERT_DER_FILE);
	unsigned char *buf = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int n, r;

	if (!b || !PEM_write_bio_X509(b, cert)) {
		BIO_free(b);
		return err_set(-ENOMEM, "cannot encode the signing certificate");
	}
	len = BIO_get_mem_data(b, &data);
	r = write_out(pem, data, (size_t)len);
	BIO_free(b);
	n = i2d_X509(cert, &buf);
	if (r >= 0)
		r = n > 0 ? write_out(der, buf, (size_t)n)
		          : err_set(-ENOMEM, "cannot encode the signing certificate");
	OPENSSL_free(buf);
	return r;
}

static unsigned plan_flags(const struct plan *plan)
{
	const char *v = plan_get(plan, "resign");

	if (v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")))
		return SIGN_RESIGN;
	return 0;
}

static int sign_all(struct sign_run *run, const char *in_dir)
{
	struct dirent **ents = NULL;
	int n = scandir(in_dir, &ents, NULL, alphasort), r = 0, releases = 0;

	if (n < 0)
		return err_set(-errno, "cannot list %s: %s", in_dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *p = path_join(in_dir, ents[i]->d_name);

		if (r >= 0 && ents[i]->d_name[0] != '.' && is_dir(p)) {
			run->release = ents[i]->d_name;
			r = sign_release(run, in_dir);
			jobs_clear(run);
			releases++;
		}
		free(ents[i]);
	}
	free(ents);
	if (r >= 0 && !releases)
		log_warn(LOG_CAT, "%s holds no kernel release: nothing to sign", in_dir);
	return r;
}

/* Worker threads: plan key jobs (default: the CPUs); one for a token, which is not thread-safe. */
static int plan_threads(const struct plan *plan, const struct sign_key *key)
{
	const char *v = plan_get(plan, "jobs");
	long n = v ? strtol(v, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);

	if (key->token || n < 1)
		return 1;
	return n > 64 ? 64 : (int)n;
}

static int sign_stage_run(struct sign_run *run, const char *in_dir)
{
	const struct stage_env *env = run->env;
	_cleanup_free_ char *key_ref = NULL, *cert_ref = NULL;
	int r = mkdir_p(env->out_dir, 0755);

	if (r >= 0)
		r = resolve_key(env->plan, &key_ref, &cert_ref);
	if (r >= 0)
		r = sign_key_load(key_ref, cert_ref, &run->key);
	if (r < 0)
		return r;
	run->threads = plan_threads(env->plan, run->key);
	r = write_certs(env->out_dir, run->key->cert);
	if (r >= 0 && env->ctx) /* the DER is what the user enrols on the target */
		r = core_host.publish(env->ctx, "signing-cert", KEYS_CERT_DER_FILE);
	if (r >= 0)
		r = sign_all(run, in_dir);
	return r;
}

int stage_sign(const struct stage_env *env)
{
	_cleanup_free_ char *in_dir = stage_env_dir(env, "build-modules");
	struct sign_run run = {.env = env, .flags = plan_flags(env->plan)};
	int r;

	if (!in_dir)
		return err_set(-ENOENT, "the sign stage needs the output of build-modules in %s",
		               env->work_dir);
	pthread_mutex_init(&run.lock, NULL);
	r = sign_stage_run(&run, in_dir);
	jobs_clear(&run);
	free(run.jobs);
	pthread_mutex_destroy(&run.lock);
	sign_key_free(run.key);
	return r;
}
