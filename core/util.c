/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "util.h"

static void oom(void)
{
	fputs("kldload: out of memory\n", stderr);
	abort();
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		oom();
	return d;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (n && dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return err_set(-errno, "cannot create directory %s: %s", p,
			               strerror(errno));
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return err_set(-errno, "cannot create directory %s: %s", p, strerror(errno));
	if (!is_dir(p))
		return err_set(-ENOTDIR, "%s exists and is not a directory", p);
	return 0;
}

static int make_writable(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D && (st->st_mode & 0700) != 0700)
		chmod(path, st->st_mode | 0700);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_set(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			return err_set(-errno, "cannot remove %s: %s", path, strerror(errno));
		return 0;
	}
	/* Build trees often hold read-only directories: open them up before removing. */
	nftw(path, make_writable, 32, FTW_PHYS | FTW_MOUNT);
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return err_set(-errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static int cmp_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_names_sorted(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *de;

	if (!d) {
		free(v);
		return err_set(-errno, "cannot read %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		v = realloc(v, (n + 2) * sizeof(char *));
		if (!v)
			abort();
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	v[n] = NULL;
	qsort(v, n, sizeof(char *), cmp_bytes);
	*names = v;
	return 0;
}

int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int read_file(const char *path, char **data, size_t *len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb)
				return err_set(-ENOMEM, "out of memory reading %s", path);
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		return err_set(-EIO, "cannot read %s", path);
	buf[n] = '\0';
	*data = TAKE_PTR(buf);
	if (len)
		*len = n;
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;

	if (fd < 0)
		return err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			unlink(tmp);
			return err_set(-e, "cannot write %s: %s", tmp, strerror(e));
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(-e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

static void to_hex(const unsigned char *md, unsigned n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

struct hasher {
	EVP_MD_CTX *md;
};

struct hasher *hasher_new(void)
{
	struct hasher *h = xcalloc(1, sizeof(*h));

	h->md = EVP_MD_CTX_new();
	if (!h->md || !EVP_DigestInit_ex(h->md, EVP_sha256(), NULL))
		abort();
	return h;
}

void hasher_add(struct hasher *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->md, data, len);
}

void hasher_add_str(struct hasher *h, const char *s)
{
	hasher_add(h, s ? s : "", strlen(s ? s : "") + 1);
}

int hasher_add_file(struct hasher *h, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t r;

	if (fd < 0)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(-errno, "cannot read %s: %s", path, strerror(errno));
		hasher_add(h, buf, (size_t)r);
	}
	return 0;
}

static int hash_tree_at(struct hasher *h, const char *root, const char *rel)
{
	_cleanup_free_ char *dir = rel[0] ? path_join(root, rel) : xstrdup(root);
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), r = 0;

	if (n < 0)
		return err_set(-errno, "cannot read directory %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		_cleanup_free_ char *sub = NULL, *full = NULL;
		struct stat st;

		if (r < 0 || !strcmp(name, ".") || !strcmp(name, ".."))
			goto next;
		sub = rel[0] ? path_join(rel, name) : xstrdup(name);
		full = path_join(root, sub);
		if (lstat(full, &st) < 0) {
			r = err_set(-errno, "cannot stat %s: %s", full, strerror(errno));
			goto next;
		}
		hasher_add_str(h, sub);
		if (S_ISDIR(st.st_mode)) {
			r = hash_tree_at(h, root, sub);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlink(full, target, sizeof(target) - 1);
			target[len < 0 ? 0 : len] = '\0';
			hasher_add_str(h, "symlink");
			hasher_add_str(h, target);
		} else if (S_ISREG(st.st_mode)) {
			hasher_add_str(h, (st.st_mode & 0111) ? "exec" : "file");
			r = hasher_add_file(h, full);
		}
	next:
		free(names[i]);
	}
	free(names);
	return r;
}

int hasher_add_tree(struct hasher *h, const char *dir)
{
	return hash_tree_at(h, dir, "");
}

void hasher_final(struct hasher *h, char out[SHA256_HEX_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(h->md, md, &n);
	to_hex(md, n, out);
	EVP_MD_CTX_free(h->md);
	free(h);
}

int sha256_file(const char *path, char out[SHA256_HEX_LEN])
{
	struct hasher *h = hasher_new();
	int r = hasher_add_file(h, path);

	hasher_final(h, out);
	return r;
}

void sha256_buf(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
	struct hasher *h = hasher_new();

	hasher_add(h, data, len);
	hasher_final(h, out);
}
