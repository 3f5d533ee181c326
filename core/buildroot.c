/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <archive.h>
#include <archive_entry.h>

#include "buildroot.h"
#include "util.h"

/* Top-level directories that live under usr/ in a merged-/usr root. */
static const char *const merged_dirs[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};

#define EXTRACT_FLAGS                                                                              \
	(ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |           \
	 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* Map a member path of a data.tar to its place in the root; NULL to skip the entry. */
static char *map_path(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	if (!*name || !strcmp(name, "."))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(merged_dirs); i++) {
		size_t n = strlen(merged_dirs[i]);

		if (strncmp(name, merged_dirs[i], n))
			continue;
		if (name[n] == '\0' || (name[n] == '/' && name[n + 1] == '\0'))
			return NULL; /* the link itself is made by buildroot_fixup() */
		if (name[n] == '/')
			return xasprintf("usr/%s", name);
	}
	return xstrdup(name);
}

struct member_reader {
	struct archive *outer;
};

static la_ssize_t member_read(struct archive *a, void *data, const void **buf)
{
	struct member_reader *r = data;
	static _Thread_local char block[65536];
	la_ssize_t n = archive_read_data(r->outer, block, sizeof(block));

	(void)a;
	*buf = block;
	return n;
}

/* Open the current member of `outer` (an ar archive) as a compressed tar. */
static struct archive *open_member(struct archive *outer, struct member_reader *r)
{
	struct archive *in = archive_read_new();

	r->outer = outer;
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	if (archive_read_open(in, r, NULL, member_read, NULL) != ARCHIVE_OK) {
		archive_read_free(in);
		return NULL;
	}
	return in;
}

struct deb_info {
	char package[256];
	char version[256];
};

static void parse_control(const char *text, struct deb_info *info)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "Package:", 8))
			sscanf(l + 8, " %255s", info->package);
		else if (!strncmp(l, "Version:", 8))
			sscanf(l + 8, " %255s", info->version);
	}
}

static int read_control(struct archive *outer, const char *deb, struct deb_info *info)
{
	struct member_reader r;
	struct archive *in = open_member(outer, &r);
	struct archive_entry *e;
	int ret = -EBADMSG;

	if (!in)
		return err_set(-EBADMSG, "%s: unreadable control member", deb);
	while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
		char buf[65536];
		la_ssize_t n;
		const char *name = archive_entry_pathname(e);

		if (strcmp(name, "./control") && strcmp(name, "control"))
			continue;
		n = archive_read_data(in, buf, sizeof(buf) - 1);
		if (n < 0)
			break;
		buf[n] = '\0';
		parse_control(buf, info);
		ret = 0;
		break;
	}
	archive_read_free(in);
	if (ret < 0 || !info->package[0])
		return err_set(-EBADMSG, "%s: no control file with a Package field", deb);
	return 0;
}

/* A source archive's member name as a relative path; NULL to skip the entry. */
static char *source_path(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	return *name && strcmp(name, ".") ? xstrdup(name) : NULL;
}

/* Write one entry at `rel`; a hard link's target is mapped as its own name was (`map`). */
static int write_entry(struct archive *in, struct archive *disk, struct archive_entry *e,
                       const char *rel, char *(*map)(const char *), FILE *list, const char *deb)
{
	mode_t mode = archive_entry_mode(e);
	const char *hard = archive_entry_hardlink(e);
	_cleanup_free_ char *hard_rel = hard ? map(hard) : NULL;
	int r;

	if (!S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode))
		return 0; /* no device nodes or fifos in a build root */
	archive_entry_set_pathname(e, rel);
	if (hard_rel)
		archive_entry_set_hardlink(e, hard_rel);
	/* No set-id bits; directories stay writable by us so later packages and rm_rf work. */
	archive_entry_set_perm(e, (mode & 01777) | (S_ISDIR(mode) ? 0700 : 0));
	r = archive_write_header(disk, e);
	if (r < ARCHIVE_WARN)
		return err_set(-EIO, "%s: cannot extract %s: %s", deb, rel,
		               archive_error_string(disk));
	if (S_ISREG(mode) && !hard_rel && archive_entry_size(e) > 0) {
		const void *buf;
		size_t size;
		la_int64_t off;

		while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(disk, buf, size, off) < ARCHIVE_OK)
				return err_set(-EIO, "%s: cannot write %s: %s", deb, rel,
				               archive_error_string(disk));
		if (r != ARCHIVE_EOF)
			return err_set(-EBADMSG, "%s: corrupt data for %s", deb, rel);
	}
	if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
		return err_set(-EIO, "%s: cannot finish %s: %s", deb, rel,
		               archive_error_string(disk));
	if (list)
		fprintf(list, "/%s\n", rel);
	return 0;
}

static int extract_data(struct archive *outer, struct archive *disk, const char *deb, FILE *list)
{
	struct member_reader r;
	struct archive *in = open_member(outer, &r);
	struct archive_entry *e;
	int ret = 0, st;

	if (!in)
		return err_set(-EBADMSG, "%s: unreadable data member", deb);
	while ((st = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		_cleanup_free_ char *rel = map_path(archive_entry_pathname(e));

		if (!rel)
			continue;
		ret = write_entry(in, disk, e, rel, map_path, list, deb);
		if (ret < 0)
			break;
	}
	if (!ret && st != ARCHIVE_EOF)
		ret =
		    err_set(-EBADMSG, "%s: corrupt data member: %s", deb, archive_error_string(in));
	archive_read_free(in);
	return ret;
}

static int record_package(const char *root, const struct deb_info *info, const char *deb,
                          const char *known_sum, const char *list_text, size_t list_len)
{
	_cleanup_free_ char *dir = path_join(root, "var/lib/dpkg/info");
	_cleanup_free_ char *list_path = xasprintf("%s/%s.list", dir, info->package);
	_cleanup_free_ char *kdir = path_join(root, "var/lib/kldload");
	_cleanup_free_ char *index = path_join(kdir, "packages");
	_cleanup_fclose_ FILE *f = NULL;
	char sum[SHA256_HEX_LEN];
	int r;

	if ((r = mkdir_p(dir, 0755)) < 0 || (r = mkdir_p(kdir, 0755)) < 0)
		return r;
	if ((r = write_file_atomic(list_path, list_text, list_len, 0644)) < 0)
		return r;
	if (known_sum)
		snprintf(sum, sizeof(sum), "%s", known_sum);
	else if ((r = sha256_file(deb, sum)) < 0)
		return r;
	f = fopen(index, "a");
	if (!f)
		return err_set(-errno, "cannot write %s: %s", index, strerror(errno));
	fprintf(f, "%s %s %s\n", info->package, info->version, sum);
	return 0;
}

/* Extract `deb` into `root`; `sum` is its sha256 when known (NULL: computed here). */
static int extract_deb(const char *root, const char *deb, const char *sum, struct archive *disk)
{
	struct archive *outer = archive_read_new();
	struct archive_entry *e;
	struct deb_info info = {0};
	_cleanup_free_ char *list_text = NULL;
	size_t list_len = 0;
	FILE *list = open_memstream(&list_text, &list_len);
	int ret = -EBADMSG, data_seen = 0;

	archive_read_support_format_ar(outer);
	if (archive_read_open_filename(outer, deb, 65536) != ARCHIVE_OK) {
		ret = err_set(-ENOENT, "%s: %s", deb, archive_error_string(outer));
		goto out;
	}
	ret = 0;
	while (!ret && archive_read_next_header(outer, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);

		if (!strncmp(name, "control.tar", 11))
			ret = read_control(outer, deb, &info);
		else if (!strncmp(name, "data.tar", 8)) {
			ret = extract_data(outer, disk, deb, list);
			data_seen = 1;
		}
	}
	if (!ret && (!data_seen || !info.package[0]))
		ret =
		    err_set(-EBADMSG, "%s: not a Debian package (no control or data member)", deb);
out:
	archive_read_free(outer);
	fclose(list);
	if (!ret)
		ret = record_package(root, &info, deb, sum, list_text, list_len);
	return ret;
}

static struct archive *disk_writer(void)
{
	struct archive *disk = archive_write_disk_new();

	archive_write_disk_set_options(disk, EXTRACT_FLAGS);
	archive_write_disk_set_standard_lookup(disk);
	return disk;
}

/*
 * In the calling process: extract every deb with one writer (directory modes fixed at close).
 * `sums`, when not NULL, holds their sha256s.
 */
static int extract_all(const char *root, const char *const *debs, const char *const *sums, size_t n)
{
	struct archive *disk = disk_writer();
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = extract_deb(root, debs[i], sums ? sums[i] : NULL, disk);
	if (archive_write_close(disk) != ARCHIVE_OK && !ret)
		ret = err_set(-EIO, "%s: %s", root, archive_error_string(disk));
	archive_write_free(disk);
	return ret;
}

typedef int (*extract_fn)(const char *const *paths, size_t n);
static int extract_fork(const char *root, const char *const *paths, size_t n, extract_fn fn);

/* extract_all() into the working directory, for extract_fork(). */
static int extract_debs_here(const char *const *debs, size_t n)
{
	return extract_all(".", debs, NULL, n);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Absolute paths of the debs, since extraction changes the working directory. */
static int absolute_paths(const char *const *debs, size_t n, char ***out)
{
	char **abs = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++) {
		abs[i] = realpath(debs[i], NULL);
		if (!abs[i]) {
			int e = errno;

			free_strv(abs, i);
			return err_set(-e, "%s: %s", debs[i], strerror(e));
		}
	}
	*out = abs;
	return 0;
}

static int extract_in_child(const char *root, const char *const *debs, size_t n)
{
	char **abs = NULL;
	int r = absolute_paths(debs, n, &abs);

	if (r < 0)
		return r;
	r = extract_fork(root, (const char *const *)abs, n, extract_debs_here);
	free_strv(abs, n);
	return r;
}

/* Run `fn` with `root` as working directory in a child; report its message back. */
static int extract_fork(const char *root, const char *const *paths, size_t n, extract_fn fn)
{
	int fds[2], status;
	char msg[1024] = "";
	ssize_t got;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(-errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return err_set(-errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int r;

		close(fds[0]);
		if (chdir(root) < 0)
			r = err_set(-errno, "%s: %s", root, strerror(errno));
		else
			r = fn(paths, n);
		if (r < 0 && write(fds[1], err_msg(), strlen(err_msg())) < 0)
			_exit(2);
		_exit(r < 0 ? 1 : 0);
	}
	close(fds[1]);
	got = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	msg[got > 0 ? got : 0] = '\0';
	if (waitpid(pid, &status, 0) < 0)
		return err_set(-errno, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return err_set(-EIO, "%s", msg[0] ? msg : "build root extraction failed");
}

int buildroot_extract_deb(const char *root, const char *deb)
{
	return extract_in_child(root, &deb, 1);
}

/* Unpack paths[0], a tar (any compression libarchive reads) or zip, into the working directory. */
static int unpack_here(const char *const *paths, size_t n)
{
	struct archive *in = archive_read_new(), *disk = disk_writer();
	struct archive_entry *e;
	int ret = 0, st = ARCHIVE_FATAL, entries = 0;

	(void)n;
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_zip(in);
	if (archive_read_open_filename(in, paths[0], 65536) != ARCHIVE_OK)
		ret = err_set(-EBADMSG, "%s: not a tar or zip archive: %s", paths[0],
		              archive_error_string(in));
	while (!ret && (st = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		_cleanup_free_ char *rel = source_path(archive_entry_pathname(e));

		if (rel && ++entries)
			ret = write_entry(in, disk, e, rel, source_path, NULL, paths[0]);
	}
	if (!ret && st != ARCHIVE_EOF)
		ret = err_set(-EBADMSG, "%s: corrupt archive: %s", paths[0],
		              archive_error_string(in));
	if (!ret && !entries)
		ret = err_set(-EBADMSG, "%s: empty archive", paths[0]);
	if (archive_write_close(disk) != ARCHIVE_OK && !ret)
		ret = err_set(-EIO, "%s: %s", paths[0], archive_error_string(disk));
	archive_write_free(disk);
	archive_read_free(in);
	return ret;
}

int buildroot_unpack(const char *dir, const char *archive)
{
	char **abs = NULL;
	int r = absolute_paths(&archive, 1, &abs);

	if (r < 0)
		return r;
	r = extract_fork(dir, (const char *const *)abs, 1, unpack_here);
	free_strv(abs, 1);
	return r;
}

static int make_link(const char *root, const char *rel, const char *target)
{
	_cleanup_free_ char *p = path_join(root, rel);
	struct stat st;

	if (lstat(p, &st) == 0)
		return 0;
	if (symlink(target, p) < 0)
		return err_set(-errno, "cannot create %s: %s", p, strerror(errno));
	return 0;
}

/* Links that update-alternatives would have made: the first candidate present wins. */
static const struct {
	const char *link;
	const char *candidates[3];
} alternatives[] = {
    {"usr/bin/awk", {"mawk", "gawk", "original-awk"}},
    {"usr/bin/which", {"which.debianutils", NULL, NULL}},
    {"usr/bin/cc", {"gcc", NULL, NULL}},
    {"usr/bin/c++", {"g++", NULL, NULL}},
};

static int fix_alternatives(const char *root)
{
	for (size_t i = 0; i < ARRAY_SIZE(alternatives); i++) {
		for (size_t j = 0; j < 3 && alternatives[i].candidates[j]; j++) {
			const char *c = alternatives[i].candidates[j];
			_cleanup_free_ char *p = xasprintf("%s/usr/bin/%s", root, c);
			int r;

			if (!path_exists(p))
				continue;
			if ((r = make_link(root, alternatives[i].link, c)) < 0)
				return r;
			break;
		}
	}
	return 0;
}

static int copy_if_missing(const char *root, const char *from, const char *to)
{
	_cleanup_free_ char *src = path_join(root, from);
	_cleanup_free_ char *dst = path_join(root, to);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	if (path_exists(dst) || !path_exists(src))
		return 0;
	if ((r = read_file(src, &data, &len)) < 0)
		return r;
	return write_file_atomic(dst, data, len, 0644);
}

int buildroot_fixup(const char *root)
{
	static const char *const dirs[] = {"etc", "tmp", "var/tmp", "proc", "dev", "usr/lib64"};
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = path_join(root, dirs[i]);

		if ((r = mkdir_p(p, 0755)) < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(merged_dirs); i++) {
		_cleanup_free_ char *usr = xasprintf("%s/usr/%s", root, merged_dirs[i]);
		_cleanup_free_ char *target = xasprintf("usr/%s", merged_dirs[i]);

		if (is_dir(usr) && (r = make_link(root, merged_dirs[i], target)) < 0)
			return r;
	}
	if ((r = fix_alternatives(root)) < 0)
		return r;
	if ((r = copy_if_missing(root, "usr/share/base-passwd/passwd.master", "etc/passwd")) < 0)
		return r;
	return copy_if_missing(root, "usr/share/base-passwd/group.master", "etc/group");
}

/* ---- the unpack cache: each .deb extracted once, build roots made of hard links to it ---- */

#define INDEX_REL "var/lib/kldload/packages"

/* For extract_fork(): paths[0] a .deb, paths[1] its sha256, into the working directory. */
static int extract_one_here(const char *const *paths, size_t n)
{
	(void)n;
	return extract_all(".", &paths[0], &paths[1], 1);
}

/*
 * A "root" holding `deb` alone, at <cache>/<sha256 of the deb>, extracted unless there.
 * `known` is that sha256 when the caller has it (NULL: computed here).
 */
static int unpack_cached(const char *cache, const char *deb, const char *known, char **out)
{
	static atomic_uint seq;
	char sum[SHA256_HEX_LEN];
	_cleanup_free_ char *dir = NULL, *tmp = NULL, *abs = NULL;
	int r;

	if (known)
		snprintf(sum, sizeof(sum), "%s", known);
	else if ((r = sha256_file(deb, sum)) < 0)
		return r;
	dir = path_join(cache, sum);
	if (!is_dir(dir)) {
		const char *args[] = {abs = realpath(deb, NULL), sum};

		if (!abs)
			return err_set(-errno, "%s: %s", deb, strerror(errno));
		tmp = xasprintf("%s.tmp-%ld-%u", dir, (long)getpid(), atomic_fetch_add(&seq, 1));
		rm_rf(tmp);
		if ((r = mkdir_p(tmp, 0755)) < 0)
			return r;
		r = extract_fork(tmp, args, 2, extract_one_here);
		if (!r && rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
			r = err_set(-errno, "cannot rename %s to %s: %s", tmp, dir,
			            strerror(errno));
		rm_rf(tmp); /* gone after the rename, or a failure, or another process was first */
		if (r < 0)
			return r;
	}
	*out = TAKE_PTR(dir);
	return 0;
}

struct unpack_pool {
	const char *cache;
	const char *const *debs;
	const char *const *sums;
	char **dirs;
	size_t n;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu;
	char *error;
};

static void *unpack_worker(void *arg)
{
	struct unpack_pool *p = arg;
	size_t i;

	while (!atomic_load(&p->failed) && (i = atomic_fetch_add(&p->next, 1)) < p->n) {
		if (unpack_cached(p->cache, p->debs[i], p->sums ? p->sums[i] : NULL, &p->dirs[i]) >=
		    0)
			continue;
		pthread_mutex_lock(&p->mu);
		if (!atomic_exchange(&p->failed, 1))
			p->error = xstrdup(err_msg());
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

/* Every deb's unpacked directory, missing ones extracted in parallel (one child each). */
static int unpack_all(const char *cache, const char *const *debs, const char *const *sums, size_t n,
                      char **dirs)
{
	struct unpack_pool p = {.cache = cache, .debs = debs, .sums = sums, .dirs = dirs, .n = n};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cpus > 1 ? (size_t)cpus : 1, started = 0;
	pthread_t t[16];
	int r = 0;

	if ((r = mkdir_p(cache, 0755)) < 0)
		return r;
	pthread_mutex_init(&p.mu, NULL);
	for (; started < want && started < ARRAY_SIZE(t) && started < n; started++)
		if (pthread_create(&t[started], NULL, unpack_worker, &p))
			break;
	if (!started)
		unpack_worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	if (p.failed)
		r = err_set(-EIO, "%s", p.error);
	free(p.error);
	pthread_mutex_destroy(&p.mu);
	return r;
}

static int copy_at(int sfd, int dfd, const char *name, mode_t mode)
{
	_cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[65536];
	ssize_t got;

	if (in < 0)
		return -errno;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
	if (out < 0)
		return -errno;
	while ((got = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0, w; off < got; off += w)
			if ((w = write(out, buf + off, (size_t)(got - off))) < 0)
				return -errno;
	return got < 0 ? -errno : 0;
}

/* Make `name` in `dfd` what it is in `sfd` (a link to the same file): a later package wins. */
static int place_entry(int sfd, int dfd, const char *name, const struct stat *st)
{
	char target[PATH_MAX];
	ssize_t len;
	int r;

	for (int tries = 0; tries < 2; tries++) {
		if (S_ISLNK(st->st_mode)) {
			if ((len = readlinkat(sfd, name, target, sizeof(target) - 1)) < 0)
				return -errno;
			target[len] = '\0';
			r = symlinkat(target, dfd, name) < 0 ? -errno : 0;
		} else {
			r = linkat(sfd, name, dfd, name, 0) < 0 ? -errno : 0;
			if (r == -EXDEV || r == -EMLINK || r == -EPERM)
				r = copy_at(sfd, dfd, name, st->st_mode);
		}
		if (r != -EEXIST)
			return r;
		/* What an earlier package put there: a file or link goes, an empty directory too. */
		if (unlinkat(dfd, name, 0) < 0 &&
		    (errno != EISDIR || unlinkat(dfd, name, AT_REMOVEDIR) < 0))
			return -errno;
	}
	return -EEXIST;
}

/* Replicate the tree under `sfd` into `dfd` with hard links; `rel` names it for messages. */
static int link_tree(int sfd, int dfd, const char *rel, const char *pkg)
{
	DIR *d;
	struct dirent *e;
	int r = 0, fd = dup(sfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_set(-errno, "%s/%s: %s", pkg, rel, strerror(errno));
	}
	while (!r && (errno = 0, e = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		if (!strcmp(sub, INDEX_REL))
			continue; /* appended by the caller */
		if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = err_set(-errno, "%s/%s: %s", pkg, sub, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int s2 = -1, d2 = -1;

			if (mkdirat(dfd, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST)
				r = err_set(-errno, "cannot create /%s: %s", sub, strerror(errno));
			else if ((s2 = openat(sfd, e->d_name,
			                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
			             0 ||
			         (d2 = openat(dfd, e->d_name,
			                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				r = err_set(
				    -EEXIST,
				    "%s: /%s is a directory there, and a file or link in an "
				    "earlier package",
				    pkg, sub);
			else
				r = link_tree(s2, d2, sub, pkg);
		} else if ((r = place_entry(sfd, dfd, e->d_name, &st)) < 0) {
			r = err_set(r, "%s: cannot place /%s: %s", pkg, sub, strerror(-r));
		}
	}
	if (!r && errno)
		r = err_set(-errno, "%s/%s: %s", pkg, rel, strerror(errno));
	closedir(d);
	return r;
}

/* Link every unpacked package into `root`, in order, and append each one's index line. */
static int link_all(const char *root, char **dirs, const char *const *debs, size_t n)
{
	_cleanup_close_ int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *index = path_join(root, INDEX_REL);
	_cleanup_free_ char *kdir = path_join(root, "var/lib/kldload");
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	if (dfd < 0)
		return err_set(-errno, "%s: %s", root, strerror(errno));
	if ((r = mkdir_p(kdir, 0755)) < 0)
		return r;
	if (!(f = fopen(index, "a")))
		return err_set(-errno, "cannot write %s: %s", index, strerror(errno));
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int sfd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_free_ char *line_path = path_join(dirs[i], INDEX_REL);
		_cleanup_free_ char *line = NULL;
		size_t len;

		if (sfd < 0)
			return err_set(-errno, "%s: %s", dirs[i], strerror(errno));
		if ((r = link_tree(sfd, dfd, "", debs[i])) < 0 ||
		    (r = read_file(line_path, &line, &len)) < 0)
			return r;
		fputs(line, f);
	}
	return fflush(f) ? err_set(-errno, "cannot write %s: %s", index, strerror(errno)) : 0;
}

int buildroot_create(const char *root, const char *const *debs, const char *const *sums, size_t n,
                     const char *unpack_cache)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", root, (long)getpid());
	char **dirs = NULL;
	int r;

	if (path_exists(root))
		return err_set(-EEXIST, "build root %s already exists", root);
	rm_rf(tmp);
	if ((r = mkdir_p(tmp, 0755)) < 0)
		return r;
	if (unpack_cache) {
		dirs = xcalloc(n ? n : 1, sizeof(char *));
		r = unpack_all(unpack_cache, debs, sums, n, dirs);
		if (!r)
			r = link_all(tmp, dirs, debs, n);
		for (size_t i = 0; i < n; i++)
			free(dirs[i]);
		free(dirs);
	} else {
		r = extract_in_child(tmp, debs, n);
	}
	if (!r)
		r = buildroot_fixup(tmp);
	if (!r && rename(tmp, root) < 0) {
		/* Another kldload laid out the same package set meanwhile: use that one. */
		if ((errno == EEXIST || errno == ENOTEMPTY) && is_dir(root))
			rm_rf(tmp);
		else
			r = err_set(-errno, "cannot rename %s to %s: %s", tmp, root,
			            strerror(errno));
	}
	if (r < 0)
		rm_rf(tmp);
	return r;
}

static int open_in_root(const char *root, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	long fd;

	if (dfd < 0)
		return err_set(-errno, "build root %s: %s", root, strerror(errno));
	fd = syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	if (fd < 0)
		return err_set(-errno, "%s in build root %s: %s", path, root, strerror(errno));
	return (int)fd;
}

int buildroot_exists(const char *root, const char *path)
{
	int fd = open_in_root(root, path, O_PATH);

	if (fd < 0) {
		err_clear();
		return 0;
	}
	close(fd);
	return 1;
}

int buildroot_read(const char *root, const char *path, char **data, size_t *len)
{
	_cleanup_close_ int fd = open_in_root(root, path, O_RDONLY);
	char proc[64];

	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return read_file(proc, data, len);
}

int buildroot_kernel_config(const char *root, const char *release, char **data, size_t *len)
{
	_cleanup_free_ char *path = xasprintf("/lib/modules/%s/build/.config", release);

	if (!buildroot_exists(root, path))
		return err_set(-ENOENT, "no headers for kernel %s in the build root (%s missing)",
		               release, path);
	return buildroot_read(root, path, data, len);
}

char *kconfig_value(const char *config, const char *symbol)
{
	size_t n = strlen(symbol);

	for (const char *l = config; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end;

		if (strncmp(l, symbol, n) || l[n] != '=')
			continue;
		end = strchrnul(l + n + 1, '\n');
		return strndup(l + n + 1, (size_t)(end - (l + n + 1)));
	}
	return NULL;
}

int buildroot_package_file(const char *root, const char *package, const char *suffix, char **path)
{
	_cleanup_free_ char *list_path = xasprintf("%s/var/lib/dpkg/info/%s.list", root, package);
	_cleanup_free_ char *text = NULL;
	size_t len, sn = strlen(suffix);
	int r;

	if (!path_exists(list_path))
		return err_set(-ENOENT, "package %s is not in the build root %s", package, root);
	if ((r = read_file(list_path, &text, &len)) < 0)
		return r;
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t ln = strlen(l);

		if (ln >= sn && !strcmp(l + ln - sn, suffix)) {
			*path = xstrdup(l);
			return 0;
		}
	}
	return err_set(-ENOENT, "package %s has no file ending in %s", package, suffix);
}
