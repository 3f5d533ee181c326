/* SPDX-License-Identifier: MIT */
/* .deb reading and writing, and initramfs cpio archives, with libarchive (see debpkg.h). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "debpkg.h"
#include "util.h"

int64_t debpkg_epoch(int64_t fallback)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end = NULL;
	long long v;

	if (!s || !*s)
		return fallback;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end || v < 0 ? fallback : (int64_t)v;
}

char *control_field(const char *control, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = control; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end = eol;

			while (end && end[1] == ' ')
				end = strchr(end + 1, '\n');
			while (*v == ' ' || *v == '\t')
				v++;
			return strndup(v, end ? (size_t)(end - v) : strlen(v));
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* ---- reading: a member of the outer ar archive is itself read as a tar ---- */

struct member {
	struct archive *outer;
	char block[65536];
};

static la_ssize_t member_read(struct archive *a, void *data, const void **buf)
{
	struct member *m = data;

	(void)a;
	*buf = m->block;
	return archive_read_data(m->outer, m->block, sizeof(m->block));
}

typedef int (*member_fn)(struct archive *tar, const char *deb, void *arg);

/* Open `deb`, find the member whose name starts with `prefix`, and hand its tar to `fn`. */
static int deb_member(const char *deb, const char *prefix, member_fn fn, void *arg)
{
	struct archive *outer = archive_read_new();
	struct archive_entry *e;
	struct member *m = xcalloc(1, sizeof(*m));
	int ret = -ENOENT, found = 0;

	archive_read_support_format_ar(outer);
	m->outer = outer;
	if (archive_read_open_filename(outer, deb, 65536) != ARCHIVE_OK)
		ret = err_set(-ENOENT, "%s: %s", deb, archive_error_string(outer));
	else
		while (!found && archive_read_next_header(outer, &e) == ARCHIVE_OK) {
			struct archive *tar;

			if (strncmp(archive_entry_pathname(e), prefix, strlen(prefix)) != 0)
				continue;
			found = 1;
			tar = archive_read_new();
			archive_read_support_filter_all(tar);
			archive_read_support_format_tar(tar);
			if (archive_read_open(tar, m, NULL, member_read, NULL) != ARCHIVE_OK)
				ret = err_set(-EBADMSG, "%s: %s: %s", deb, prefix,
				              archive_error_string(tar));
			else
				ret = fn(tar, deb, arg);
			archive_read_free(tar);
		}
	if (!found && ret == -ENOENT)
		ret = err_set(-EBADMSG, "%s: not a Debian package (no %s member)", deb, prefix);
	archive_read_free(outer);
	free(m);
	return ret;
}

static int read_control(struct archive *tar, const char *deb, void *arg)
{
	struct archive_entry *e;

	while (archive_read_next_header(tar, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		int64_t size = archive_entry_size(e);
		char *buf;

		if (strcmp(name, "./control") != 0 && strcmp(name, "control") != 0)
			continue;
		if (size < 0 || size > (1 << 20))
			return err_set(-EBADMSG, "%s: control file of %lld bytes", deb,
			               (long long)size);
		buf = xcalloc(1, (size_t)size + 1);
		if (archive_read_data(tar, buf, (size_t)size) != size) {
			free(buf);
			return err_set(-EBADMSG, "%s: cannot read its control file", deb);
		}
		*(char **)arg = buf;
		return 0;
	}
	return err_set(-EBADMSG, "%s: no control file", deb);
}

int debpkg_control(const char *deb, char **text)
{
	char *out = NULL;
	int ret = deb_member(deb, "control.tar", read_control, &out);

	if (ret == 0)
		*text = out;
	return ret;
}

/* A member path made safe: no absolute path, no "..", leading "./" removed. */
static int safe_rel(const char *deb, const char *path, const char **rel)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '/' || !strcmp(path, "..") || !strncmp(path, "../", 3) ||
	    strstr(path, "/../") || (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")))
		return err_set(-EPERM, "%s: unsafe path %s", deb, path);
	*rel = path;
	return 0;
}

static int extract_entry(struct archive *tar, struct archive *disk, struct archive_entry *e,
                         const char *deb, const char *dest)
{
	const char *rel, *hard = archive_entry_hardlink(e);
	_cleanup_free_ char *full = NULL, *hard_full = NULL;
	int ret = safe_rel(deb, archive_entry_pathname(e), &rel);

	if (ret < 0)
		return ret;
	if (!*rel || !strcmp(rel, "."))
		return 0;
	full = path_join(dest, rel);
	archive_entry_set_pathname(e, full);
	if (hard) {
		ret = safe_rel(deb, hard, &rel);
		if (ret < 0)
			return ret;
		hard_full = path_join(dest, rel);
		archive_entry_set_hardlink(e, hard_full);
	}
	archive_entry_set_perm(e, archive_entry_perm(e) & 0777);
	if (archive_write_header(disk, e) < ARCHIVE_WARN)
		return err_set(-EIO, "%s: %s", deb, archive_error_string(disk));
	if (archive_entry_size(e) > 0 && !hard) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r;

		while ((r = archive_read_data_block(tar, &buf, &size, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(disk, buf, size, off) < ARCHIVE_OK)
				return err_set(-EIO, "%s: %s", deb, archive_error_string(disk));
		if (r != ARCHIVE_EOF)
			return err_set(-EBADMSG, "%s: %s", deb, archive_error_string(tar));
	}
	if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
		return err_set(-EIO, "%s: %s", deb, archive_error_string(disk));
	return 0;
}

static int extract_data(struct archive *tar, const char *deb, void *arg)
{
	struct archive *disk = archive_write_disk_new();
	struct archive_entry *e;
	int ret = 0, r;

	archive_write_disk_set_options(
	    disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
	while (ret == 0 && (r = archive_read_next_header(tar, &e)) == ARCHIVE_OK)
		ret = extract_entry(tar, disk, e, deb, arg);
	if (ret == 0 && r != ARCHIVE_EOF)
		ret = err_set(-EBADMSG, "%s: corrupt data member: %s", deb,
		              archive_error_string(tar));
	if (archive_write_close(disk) != ARCHIVE_OK && ret == 0)
		ret = err_set(-EIO, "%s: %s", deb, archive_error_string(disk));
	archive_write_free(disk);
	return ret;
}

int debpkg_extract(const char *deb, const char *dest)
{
	int ret = mkdir_p(dest, 0755);

	return ret < 0 ? ret : deb_member(deb, "data.tar", extract_data, (void *)dest);
}

/* ---- writing ---- */

struct membuf {
	char *data;
	size_t len, cap;
};

static la_ssize_t membuf_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct membuf *m = arg;

	(void)a;
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->data = realloc(m->data, m->cap);
		if (!m->data)
			abort();
	}
	memcpy(m->data + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

static struct archive *tar_xz_new(struct membuf *m)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_gnutar(a);
	archive_write_add_filter_xz(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open(a, m, NULL, membuf_write, NULL);
	return a;
}

static struct archive_entry *entry_new(const char *path, mode_t type, mode_t perm, int64_t size,
                                       int64_t epoch)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	archive_entry_set_mtime(e, epoch, 0);
	return e;
}

static int add_bytes(struct archive *a, const char *path, mode_t perm, const void *data, size_t len,
                     int64_t epoch)
{
	struct archive_entry *e = entry_new(path, AE_IFREG, perm, (int64_t)len, epoch);
	int ret = 0;

	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(a, data, len) != (la_ssize_t)len))
		ret = err_set(-EIO, "cannot write %s: %s", path, archive_error_string(a));
	archive_entry_free(e);
	return ret;
}

static int add_dir(struct archive *a, const char *path, int64_t epoch)
{
	struct archive_entry *e = entry_new(path, AE_IFDIR, 0755, 0, epoch);
	int ret = archive_write_header(a, e) == ARCHIVE_OK
	              ? 0
	              : err_set(-EIO, "cannot write %s: %s", path, archive_error_string(a));

	archive_entry_free(e);
	return ret;
}

static int cmp_files(const void *a, const void *b)
{
	const struct kld_deb_file *x = *(const struct kld_deb_file *const *)a;
	const struct kld_deb_file *y = *(const struct kld_deb_file *const *)b;

	return strcmp(x->path, y->path);
}

/* Directories above `path` not written yet (`last` is the previous file's path). */
static int add_parents(struct archive *a, const char *path, const char *last, int64_t epoch)
{
	for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = (size_t)(p - path);
		_cleanup_free_ char *dir = NULL;

		if (last && strncmp(last, path, n + 1) == 0)
			continue;
		dir = xasprintf(".%.*s/", (int)n, path);
		if (add_dir(a, dir, epoch) < 0)
			return -EIO;
	}
	return 0;
}

struct data_out {
	struct membuf tar;
	char *md5sums;
	size_t md5sums_len;
	uint64_t kib; /* Installed-Size */
};

static int md5_hex(const char *data, size_t len, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_md5(), NULL))
		return err_set(-EIO, "MD5 failed");
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	return 0;
}

static int data_add_file(struct archive *a, const struct kld_deb_file *f, FILE *md5,
                         struct data_out *out, int64_t epoch)
{
	_cleanup_free_ char *data = NULL, *path = xasprintf(".%s", f->path);
	char hex[33];
	size_t len;
	int ret = read_file(f->source, &data, &len);

	if (ret < 0)
		return ret;
	if (f->path[0] != '/' || strstr(f->path, "/../"))
		return err_set(-EINVAL, "package path %s is not absolute", f->path);
	ret = md5_hex(data, len, hex);
	if (ret == 0)
		ret = add_bytes(a, path, f->mode & 07777, data, len, epoch);
	if (ret == 0)
		fprintf(md5, "%s  %s\n", hex, f->path + 1);
	out->kib += (len + 1023) / 1024;
	return ret;
}

/* gzip -9n of a text, in memory (no name, no timestamp: reproducible). */
static int gzip_text(const char *text, struct membuf *out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t len = strlen(text);
	int ret = 0;

	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	archive_write_set_filter_option(a, "gzip", "compression-level", "9");
	archive_write_set_bytes_in_last_block(a, 1);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (int64_t)len);
	if (archive_write_open(a, out, NULL, membuf_write, NULL) != ARCHIVE_OK ||
	    archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, text, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK)
		ret = err_set(-EIO, "gzip: %s", archive_error_string(a));
	archive_entry_free(e);
	archive_write_free(a);
	return ret;
}

/* The changelog as one more file of the package (a temporary file the caller removes). */
static int changelog_file(const struct kld_deb_spec *spec, const char *tmpdir,
                          struct kld_deb_file *f)
{
	_cleanup_free_ char *pkg = control_field(spec->control, "Package");
	_cleanup_free_ char *ver = control_field(spec->control, "Version");
	struct membuf gz = {0};
	int ret = gzip_text(spec->changelog, &gz);
	char *src = path_join(tmpdir, "changelog.gz");

	if (ret == 0)
		ret = write_file_atomic(src, gz.data, gz.len, 0644);
	free(gz.data);
	if (ret < 0) {
		free(src);
		return ret;
	}
	*f = (struct kld_deb_file){sizeof(*f), 0644, src,
	                           xasprintf("/usr/share/doc/%s/changelog%s.gz", pkg ? pkg : "x",
	                                     ver && strchr(ver, '-') ? ".Debian" : "")};
	return 0;
}

/* ABI 1.0's struct kld_deb_file: what a plugin's record holds at the least. */
#define DEB_FILE_MIN (offsetof(struct kld_deb_file, path) + sizeof(const char *))

static int build_data(const struct kld_deb_spec *spec, int64_t epoch, struct data_out *out)
{
	const struct kld_deb_file **sorted = xcalloc(spec->n_files + 2, sizeof(*sorted));
	struct kld_deb_file cl = {0};
	char tmpdir[] = "/tmp/kldload-deb-XXXXXX";
	uint32_t n = spec->n_files;
	struct archive *a;
	FILE *md5;
	const char *last = NULL;
	int ret = 0;

	/* The plugin's records are files[0].size bytes apart (checked in deb_write()). */
	for (uint32_t i = 0; i < spec->n_files; i++)
		sorted[i] = (const struct kld_deb_file *)((const char *)spec->files +
		                                          (size_t)i * spec->files[0].size);
	if (spec->size >= offsetof(struct kld_deb_spec, changelog) + sizeof(spec->changelog) &&
	    spec->changelog) {
		if (!mkdtemp(tmpdir))
			return err_set(-errno, "cannot create a temporary directory");
		ret = changelog_file(spec, tmpdir, &cl);
		if (ret < 0) {
			rm_rf(tmpdir);
			free(sorted);
			return ret;
		}
		sorted[n++] = &cl;
	}
	a = tar_xz_new(&out->tar);
	md5 = open_memstream(&out->md5sums, &out->md5sums_len);
	ret = add_dir(a, "./", epoch);
	qsort(sorted, n, sizeof(*sorted), cmp_files);
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		ret = add_parents(a, sorted[i]->path, last, epoch);
		if (ret == 0)
			ret = data_add_file(a, sorted[i], md5, out, epoch);
		last = sorted[i]->path;
	}
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = err_set(-EIO, "cannot write data.tar.xz: %s", archive_error_string(a));
	archive_write_free(a);
	fclose(md5);
	free(sorted);
	if (cl.source) {
		rm_rf(tmpdir);
		free((char *)cl.source);
		free((char *)cl.path);
	}
	return ret;
}

static int build_control(const struct kld_deb_spec *spec, const struct data_out *data,
                         int64_t epoch, struct membuf *out)
{
	struct archive *a = tar_xz_new(out);
	size_t n = strlen(spec->control);
	_cleanup_free_ char *control = xasprintf(
	    "%.*s\nInstalled-Size: %llu\n", (int)(n && spec->control[n - 1] == '\n' ? n - 1 : n),
	    spec->control, (unsigned long long)data->kib);
	int ret = add_dir(a, "./", epoch);

	if (ret == 0)
		ret = add_bytes(a, "./control", 0644, control, strlen(control), epoch);
	if (ret == 0)
		ret = add_bytes(a, "./md5sums", 0644, data->md5sums, data->md5sums_len, epoch);
	if (ret == 0 && spec->postinst)
		ret =
		    add_bytes(a, "./postinst", 0755, spec->postinst, strlen(spec->postinst), epoch);
	if (ret == 0 && spec->postrm)
		ret = add_bytes(a, "./postrm", 0755, spec->postrm, strlen(spec->postrm), epoch);
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = err_set(-EIO, "cannot write control.tar.xz: %s", archive_error_string(a));
	archive_write_free(a);
	return ret;
}

static int write_ar(const char *tmp, const struct membuf *control, const struct data_out *data,
                    int64_t epoch)
{
	struct archive *a = archive_write_new();
	int ret = 0;

	archive_write_set_format_ar_svr4(a);
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK)
		ret = err_set(-EIO, "cannot create %s: %s", tmp, archive_error_string(a));
	if (ret == 0)
		ret = add_bytes(a, "debian-binary", 0644, "2.0\n", 4, epoch);
	if (ret == 0)
		ret = add_bytes(a, "control.tar.xz", 0644, control->data, control->len, epoch);
	if (ret == 0)
		ret = add_bytes(a, "data.tar.xz", 0644, data->tar.data, data->tar.len, epoch);
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = err_set(-EIO, "cannot write %s: %s", tmp, archive_error_string(a));
	archive_write_free(a);
	return ret;
}

int debpkg_write(const struct kld_deb_spec *spec, const char *output)
{
	int64_t epoch = debpkg_epoch(spec->epoch);
	struct data_out data = {0};
	struct membuf control = {0};
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", output, (long)getpid());
	int ret;

	if (!spec->control || !strstr(spec->control, "Package:"))
		return err_set(-EINVAL, "%s: the control text has no Package field", output);
	for (uint32_t i = 0; i < spec->n_files; i++) {
		const struct kld_deb_file *f =
		    (const struct kld_deb_file *)((const char *)spec->files +
		                                  (size_t)i * spec->files[0].size);
		if (spec->files[0].size < DEB_FILE_MIN || f->size != spec->files[0].size)
			return err_set(
			    -EINVAL, "%s: file record %u has size %u (record 0: %u, ABI 1.0: %zu)",
			    output, i, f->size, spec->files[0].size, (size_t)DEB_FILE_MIN);
	}
	ret = build_data(spec, epoch, &data);
	if (ret == 0)
		ret = build_control(spec, &data, epoch, &control);
	if (ret == 0)
		ret = write_ar(tmp, &control, &data, epoch);
	if (ret == 0 && rename(tmp, output) < 0)
		ret = err_set(-errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (ret < 0)
		unlink(tmp);
	free(data.tar.data);
	free(data.md5sums);
	free(control.data);
	return ret;
}

/* ---- cpio ---- */

struct cpio_ctx {
	struct archive *a;
	const char *top;
	int64_t epoch;
	int64_t ino;
};

static int cpio_add(struct cpio_ctx *c, const char *rel, const struct stat *st);

static int cpio_dir(struct cpio_ctx *c, const char *rel)
{
	_cleanup_free_ char *full = *rel ? path_join(c->top, rel) : xstrdup(c->top);
	char **names = NULL;
	int ret = dir_names_sorted(full, &names);

	for (size_t i = 0; ret == 0 && names[i]; i++) {
		_cleanup_free_ char *child = *rel ? path_join(rel, names[i]) : xstrdup(names[i]);
		_cleanup_free_ char *path = path_join(c->top, child);
		struct stat st;

		if (lstat(path, &st) < 0)
			ret = err_set(-errno, "cannot stat %s: %s", path, strerror(errno));
		else
			ret = cpio_add(c, child, &st);
	}
	strv_free(names);
	return ret;
}

static int cpio_add(struct cpio_ctx *c, const char *rel, const struct stat *st)
{
	_cleanup_free_ char *path = path_join(c->top, rel), *data = NULL;
	struct archive_entry *e =
	    entry_new(rel, st->st_mode & S_IFMT, st->st_mode & 07777, 0, c->epoch);
	size_t len = 0;
	int ret = 0;

	archive_entry_set_ino64(e, ++c->ino);
	archive_entry_set_nlink(e, S_ISDIR(st->st_mode) ? 2 : 1);
	if (S_ISREG(st->st_mode))
		ret = read_file(path, &data, &len);
	else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);

		if (n < 0)
			ret = err_set(-errno, "cannot read link %s", path);
		else {
			target[n] = '\0';
			archive_entry_set_symlink(e, target);
		}
	} else if (!S_ISDIR(st->st_mode))
		ret =
		    err_set(-EINVAL, "%s: only files, directories and links go into a cpio", path);
	archive_entry_set_size(e, (int64_t)len);
	if (ret == 0 && (archive_write_header(c->a, e) != ARCHIVE_OK ||
	                 (len && archive_write_data(c->a, data, len) != (la_ssize_t)len)))
		ret = err_set(-EIO, "cpio: %s: %s", rel, archive_error_string(c->a));
	archive_entry_free(e);
	if (ret == 0 && S_ISDIR(st->st_mode))
		ret = cpio_dir(c, rel);
	return ret;
}

int cpio_write_tree(const char *dir, const char *output, int64_t epoch)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", output, (long)getpid());
	struct cpio_ctx c = {.a = archive_write_new(), .top = dir, .epoch = debpkg_epoch(epoch)};
	int ret = 0;

	archive_write_set_format_cpio_newc(c.a);
	archive_write_add_filter_gzip(c.a);
	archive_write_set_filter_option(c.a, "gzip", "timestamp", NULL);
	archive_write_set_bytes_per_block(c.a, 512);
	if (archive_write_open_filename(c.a, tmp) != ARCHIVE_OK)
		ret = err_set(-EIO, "cannot create %s: %s", tmp, archive_error_string(c.a));
	if (ret == 0)
		ret = cpio_dir(&c, "");
	if (archive_write_close(c.a) != ARCHIVE_OK && ret == 0)
		ret = err_set(-EIO, "cannot write %s: %s", tmp, archive_error_string(c.a));
	archive_write_free(c.a);
	if (ret == 0 && rename(tmp, output) < 0)
		ret = err_set(-errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (ret < 0)
		unlink(tmp);
	return ret;
}
