/* SPDX-License-Identifier: MIT */
/* Offline repositories with signed indexes (see repo.h). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/evp.h>

#include "debpkg.h"
#include "log.h"
#include "repo.h"
#include "util.h"

extern char **environ;

/* ---- running programs ---- */

static char **env_merge(const char *const *add)
{
	size_t n = 0, m = 0;
	char **env;

	while (environ[n])
		n++;
	while (add && add[m])
		m++;
	env = xcalloc(n + m + 1, sizeof(*env));
	for (size_t i = 0; i < m; i++)
		env[i] = (char *)add[i];
	for (size_t i = 0; i < n; i++)
		env[m + i] = environ[i];
	return env;
}

/* The last line of a program's output, for an error message. */
static char *last_line(const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char *p;

	if (read_file(path, &text, &len) < 0 || len == 0)
		return xstrdup("");
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	p = strrchr(text, '\n');
	return xstrdup(p ? p + 1 : text);
}

int image_run(const char *const *argv, const char *const *env, const char *out, int *status)
{
	char log_path[] = "/tmp/kldload-run-XXXXXX";
	int log_fd = mkstemp(log_path);
	posix_spawn_file_actions_t fa;
	char **e = env_merge(env);
	pid_t pid;
	int st = 0, r;

	if (log_fd < 0)
		return err_set(-errno, "cannot create a temporary file: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out)
		posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	else
		posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, e);
	posix_spawn_file_actions_destroy(&fa);
	free(e);
	close(log_fd);
	if (r != 0) {
		unlink(log_path);
		return err_set(-r, "cannot run %s: %s", argv[0], strerror(r));
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			unlink(log_path);
			return err_set(-errno, "waitpid %s: %s", argv[0], strerror(errno));
		}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (*status != 0) {
		_cleanup_free_ char *line = last_line(log_path);

		log_warn("image", "%s exited with status %d: %s", argv[0], *status, line);
	}
	unlink(log_path);
	return 0;
}

static int run_ok(const char *const *argv, const char *const *env, const char *out)
{
	int status = 0, r = image_run(argv, env, out, &status);

	if (r == 0 && status != 0)
		r = err_set(-KLD_E_BUILD, "%s failed (exit status %d)", argv[0], status);
	return r;
}

/* ---- the key ---- */

/* A throw-away GNUPGHOME with the key imported. */
static int gpg_home(const char *key_dir, char **home)
{
	char tmpl[] = "/tmp/kldload-gpg-XXXXXX";
	_cleanup_free_ char *secret = path_join(key_dir, REPO_KEY_SECRET);

	if (!mkdtemp(tmpl))
		return err_set(-errno, "cannot create a temporary directory: %s", strerror(errno));
	*home = xstrdup(tmpl);
	if (!path_exists(secret))
		return 0;
	{
		const char *argv[] = {"gpg", "--batch",  "--quiet", "--homedir",
		                      tmpl,  "--import", secret,    NULL};
		return run_ok(argv, NULL, "/dev/null");
	}
}

static int gpg_export(const char *home, const char *dir)
{
	_cleanup_free_ char *sec = path_join(dir, REPO_KEY_SECRET);
	_cleanup_free_ char *pub = path_join(dir, REPO_KEY_PUBLIC);
	_cleanup_free_ char *bin = path_join(dir, REPO_KEY_PUBLIC_BIN);
	const char *a1[] = {"gpg", "--batch", "--homedir", home, "--armor", "--export-secret-keys",
	                    NULL};
	const char *a2[] = {"gpg", "--batch", "--homedir", home, "--armor", "--export", NULL};
	const char *a3[] = {"gpg", "--batch", "--homedir", home, "--export", NULL};
	int r;

	umask(077);
	r = run_ok(a1, NULL, sec);
	umask(022);
	if (r == 0)
		r = run_ok(a2, NULL, pub);
	if (r == 0)
		r = run_ok(a3, NULL, bin);
	if (r == 0)
		chmod(pub, 0644), chmod(bin, 0644);
	return r;
}

int repo_key_ensure(const char *dir)
{
	_cleanup_free_ char *secret = path_join(dir, REPO_KEY_SECRET);
	_cleanup_free_ char *home = NULL;
	int r;

	if (path_exists(secret))
		return 0;
	r = mkdir_p(dir, 0700);
	if (r == 0)
		r = gpg_home(dir, &home);
	if (r == 0) {
		const char *argv[] = {"gpg",
		                      "--batch",
		                      "--quiet",
		                      "--homedir",
		                      home,
		                      "--passphrase",
		                      "",
		                      "--quick-gen-key",
		                      "kldload repository key <kldload@localhost>",
		                      "ed25519",
		                      "sign",
		                      "never",
		                      NULL};
		r = run_ok(argv, NULL, "/dev/null");
	}
	if (r == 0)
		r = gpg_export(home, dir);
	if (home)
		rm_rf(home);
	if (r < 0)
		unlink(secret);
	return r;
}

/* Creation time of the key in `home` (gpg --with-colons, field 6 of "pub"). */
static int64_t key_ctime(const char *home)
{
	_cleanup_free_ char *out = xasprintf("%s/list", home), *text = NULL;
	const char *argv[] = {
	    "gpg", "--batch", "--homedir", home, "--with-colons", "--list-secret-keys", NULL};
	long long t = 0;

	if (run_ok(argv, NULL, out) < 0 || read_file(out, &text, NULL) < 0)
		return 0;
	for (char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (sscanf(p, "sec:%*[^:]:%*[^:]:%*[^:]:%*[^:]:%lld:", &t) == 1)
			break;
	return t;
}

static int sign_release(const char *key_dir, const char *dists, int64_t epoch)
{
	_cleanup_free_ char *home = NULL, *rel = path_join(dists, "Release");
	_cleanup_free_ char *inrel = path_join(dists, "InRelease");
	_cleanup_free_ char *gpgsig = path_join(dists, "Release.gpg"), *faked = NULL;
	_cleanup_free_ char *log_path = NULL, *log = NULL;
	int64_t t;
	int r = gpg_home(key_dir, &home);

	if (r == 0) {
		/* The signature's time: the build's epoch, or the key's birth when that is later. */
		t = key_ctime(home);
		faked = xasprintf("%lld!", (long long)(epoch > t ? epoch : t));
		log_path = path_join(home, "gpg.log");
	}
	if (r == 0) {
		const char *argv[] = {"gpg",         "--batch",
		                      "--quiet",     "--homedir",
		                      home,          "--logger-file",
		                      log_path,      "--faked-system-time",
		                      faked,         "--digest-algo",
		                      "SHA512",      "--yes",
		                      "--clearsign", "-o",
		                      inrel,         rel,
		                      NULL};
		r = run_ok(argv, NULL, "/dev/null");
	}
	if (r == 0) {
		const char *argv[] = {"gpg",     "--batch",
		                      "--quiet", "--homedir",
		                      home,      "--logger-file",
		                      log_path,  "--faked-system-time",
		                      faked,     "--digest-algo",
		                      "SHA512",  "--yes",
		                      "--armor", "--detach-sign",
		                      "-o",      gpgsig,
		                      rel,       NULL};
		r = run_ok(argv, NULL, "/dev/null");
	}
	if (r < 0 && log_path && read_file(log_path, &log, NULL) == 0)
		r = err_set(r, "signing %s failed: %s", rel, log);
	if (home)
		rm_rf(home);
	return r;
}

/* ---- packages ---- */

struct pkg {
	char *name, *version, *arch, *source, *control, *file, *pool;
	int64_t size;
	char md5[33], sha256[SHA256_HEX_LEN];
};

static void pkg_clear(struct pkg *p)
{
	free(p->name), free(p->version), free(p->arch), free(p->source);
	free(p->control), free(p->file), free(p->pool);
}

static int digest_file(const char *path, const EVP_MD *md, char *hex, int64_t *size)
{
	_cleanup_free_ char *data = NULL;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t len;
	int r = read_file(path, &data, &len);

	if (r < 0)
		return r;
	if (!EVP_Digest(data, len, d, &n, md, NULL))
		return err_set(-EIO, "%s: digest failed", path);
	for (unsigned int i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	if (size)
		*size = (int64_t)len;
	return 0;
}

static char *pool_path(const struct pkg *p, const char *ext)
{
	const char *v = strchr(p->version, ':') ? strchr(p->version, ':') + 1 : p->version;
	const char *s = p->source;
	int pre = !strncmp(s, "lib", 3) && strlen(s) > 3 ? 4 : 1;

	return xasprintf("pool/main/%.*s/%s/%s_%s_%s.%s", pre, s, s, p->name, v, p->arch, ext);
}

static int pkg_load(const char *file, const char *ext, struct pkg *p)
{
	char *src;
	int r = debpkg_control(file, &p->control);

	if (r < 0)
		return r;
	p->name = control_field(p->control, "Package");
	p->version = control_field(p->control, "Version");
	p->arch = control_field(p->control, "Architecture");
	if (!p->name || !p->version || !p->arch)
		return err_set(-EBADMSG, "%s: control file lacks Package, Version or Architecture",
		               file);
	src = control_field(p->control, "Source");
	if (src)
		src[strcspn(src, " (")] = '\0';
	p->source = src ? src : xstrdup(p->name);
	p->file = xstrdup(file);
	p->pool = pool_path(p, ext);
	r = digest_file(file, EVP_md5(), p->md5, NULL);
	if (r == 0)
		r = digest_file(file, EVP_sha256(), p->sha256, &p->size);
	return r;
}

static int place(const char *top, const struct pkg *p)
{
	_cleanup_free_ char *dest = path_join(top, p->pool), *dir = xstrdup(dest);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	*strrchr(dir, '/') = '\0';
	r = mkdir_p(dir, 0755);
	if (r < 0 || path_exists(dest))
		return r;
	if (link(p->file, dest) == 0)
		return 0;
	r = read_file(p->file, &data, &len);
	return r < 0 ? r : write_file_atomic(dest, data, len, 0644);
}

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->version, y->version);
}

/* The stanza: the package's own control fields, then where the file is and its hashes. */
static void stanza(FILE *f, const struct pkg *p)
{
	size_t n = strlen(p->control);

	while (n && p->control[n - 1] == '\n')
		n--;
	fprintf(f, "%.*s\nFilename: %s\nSize: %lld\nMD5sum: %s\nSHA256: %s\n\n", (int)n, p->control,
	        p->pool, (long long)p->size, p->md5, p->sha256);
}

static int write_compressed(const char *path, const char *data, size_t len, int xz)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	archive_write_set_format_raw(a);
	if (xz)
		archive_write_add_filter_xz(a);
	else {
		archive_write_add_filter_gzip(a);
		archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	}
	archive_write_set_bytes_in_last_block(a, 1);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (int64_t)len);
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK ||
	    archive_write_header(a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(a, data, len) != (la_ssize_t)len) ||
	    archive_write_close(a) != ARCHIVE_OK)
		r = err_set(-EIO, "cannot write %s: %s", path, archive_error_string(a));
	archive_entry_free(e);
	archive_write_free(a);
	if (r == 0 && rename(tmp, path) < 0)
		r = err_set(-errno, "cannot rename %s", tmp);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Writes <dir>/Packages{,.gz,.xz}; appends their entries (relative to dists) to `sums`. */
static int write_index(const char *dists, const char *sub, struct pkg *pk, size_t n, FILE *md5,
                       FILE *sha)
{
	static const char *const names[] = {"Packages", "Packages.gz", "Packages.xz"};
	_cleanup_free_ char *dir = path_join(dists, sub), *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	for (size_t i = 0; i < n; i++)
		stanza(f, &pk[i]);
	fclose(f);
	r = mkdir_p(dir, 0755);
	for (int i = 0; r == 0 && i < 3; i++) {
		_cleanup_free_ char *path = path_join(dir, names[i]);
		char m[33], s[SHA256_HEX_LEN];
		int64_t size = 0;

		r = i == 0 ? write_file_atomic(path, text, len, 0644)
		           : write_compressed(path, text, len, i == 2);
		if (r == 0)
			r = digest_file(path, EVP_md5(), m, NULL);
		if (r == 0)
			r = digest_file(path, EVP_sha256(), s, &size);
		if (r == 0) {
			fprintf(md5, " %s %16lld %s/%s\n", m, (long long)size, sub, names[i]);
			fprintf(sha, " %s %16lld %s/%s\n", s, (long long)size, sub, names[i]);
		}
	}
	return r;
}

static int load_all(const char *const *files, uint32_t n, const char *ext, const char *top,
                    struct pkg **out)
{
	struct pkg *pk = xcalloc(n + 1, sizeof(*pk));
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < n; i++)
		r = pkg_load(files[i], ext, &pk[i]);
	for (uint32_t i = 0; r == 0 && i < n; i++)
		r = place(top, &pk[i]);
	qsort(pk, n, sizeof(*pk), cmp_pkg);
	*out = pk;
	return r;
}

static void free_all(struct pkg *pk, uint32_t n)
{
	for (uint32_t i = 0; pk && i < n; i++)
		pkg_clear(&pk[i]);
	free(pk);
}

static int write_release(const struct kld_repo_spec *s, const char *dists, const char *md5,
                         const char *sha, int64_t epoch)
{
	_cleanup_free_ char *path = path_join(dists, "Release"), *text = NULL;
	char date[64];
	time_t t = (time_t)epoch;
	struct tm tm;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S UTC", &tm);
	fprintf(f, "Origin: %s\nLabel: %s\nSuite: %s\n", s->origin, s->origin,
	        s->suite ? s->suite : s->codename);
	if (s->version)
		fprintf(f, "Version: %s\n", s->version);
	fprintf(f, "Codename: %s\nDate: %s\nArchitectures: %s\nComponents: main\n", s->codename,
	        date, s->arch);
	fprintf(f, "Description: offline repository made by kldload\nMD5Sum:\n%sSHA256:\n%s", md5,
	        sha);
	fclose(f);
	return write_file_atomic(path, text, len, 0644);
}

int repo_write(const struct kld_repo_spec *s)
{
	_cleanup_free_ char *dists = xasprintf("%s/dists/%s", s->dir, s->codename);
	_cleanup_free_ char *bin = xasprintf("main/binary-%s", s->arch);
	_cleanup_free_ char *di = xasprintf("main/debian-installer/binary-%s", s->arch);
	char *md5 = NULL, *sha = NULL;
	size_t ml = 0, sl = 0;
	FILE *fm = open_memstream(&md5, &ml), *fs = open_memstream(&sha, &sl);
	struct pkg *debs = NULL, *udebs = NULL;
	int64_t epoch = debpkg_epoch(s->epoch);
	int r = load_all(s->debs, s->n_debs, "deb", s->dir, &debs);

	if (r == 0)
		r = load_all(s->udebs, s->udebs ? s->n_udebs : 0, "udeb", s->dir, &udebs);
	if (r == 0)
		r = write_index(dists, bin, debs, s->n_debs, fm, fs);
	if (r == 0)
		r = write_index(dists, di, udebs, s->udebs ? s->n_udebs : 0, fm, fs);
	fclose(fm);
	fclose(fs);
	if (r == 0)
		r = write_release(s, dists, md5, sha, epoch);
	if (r == 0 && s->key_dir)
		r = sign_release(s->key_dir, dists, epoch);
	free(md5);
	free(sha);
	free_all(debs, s->n_debs);
	free_all(udebs, s->udebs ? s->n_udebs : 0);
	return r;
}
