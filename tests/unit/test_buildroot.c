/* SPDX-License-Identifier: MIT */
/*
 * Build roots from .deb files made here with libarchive (ar + tar, as dpkg-deb makes them):
 * merged /usr, package lists, and the secure-extract rules against hostile packages.
 */
#include <check.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "buildroot.h"
#include "util.h"
#include "check-main.h"

static char dir[64];

struct member {
	const char *name;
	char type;        /* 'f' file, 'd' directory, 'l' symlink */
	const char *data; /* file content or link target */
};

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-buildroot-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

static void add_entry(struct archive *a, const struct member *m)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = m->type == 'f' ? strlen(m->data) : 0;

	archive_entry_set_pathname(e, m->name);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (m->type == 'd') {
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, 0755);
	} else if (m->type == 'l') {
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_perm(e, 0777);
		archive_entry_set_symlink(e, m->data);
	} else {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 04755); /* set-uid: must be dropped */
		archive_entry_set_size(e, (la_int64_t)len);
	}
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		ck_assert_int_eq(archive_write_data(a, m->data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

/* A gzip'd tar of `members` in memory. */
static void *make_tar(const struct member *members, size_t n, size_t *size)
{
	size_t cap = 1 << 20;
	void *buf = xcalloc(1, cap);
	struct archive *a = archive_write_new();

	archive_write_set_format_gnutar(a);
	archive_write_add_filter_gzip(a);
	ck_assert_int_eq(archive_write_open_memory(a, buf, cap, size), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &members[i]);
	archive_write_close(a);
	archive_write_free(a);
	return buf;
}

static void ar_add(struct archive *a, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static char *make_deb(const char *name, const struct member *members, size_t n)
{
	char *path = xasprintf("%s/%s.deb", dir, name);
	_cleanup_free_ char *control =
	    xasprintf("Package: %s\nVersion: 1.0\nArchitecture: all\n", name);
	const struct member cm[] = {{"./control", 'f', control}};
	size_t csize, dsize;
	_cleanup_free_ void *ctar = make_tar(cm, 1, &csize);
	_cleanup_free_ void *dtar = make_tar(members, n, &dsize);
	struct archive *a = archive_write_new();

	archive_write_set_format_ar_svr4(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	ar_add(a, "debian-binary", "2.0\n", 4);
	ar_add(a, "control.tar.gz", ctar, csize);
	ar_add(a, "data.tar.gz", dtar, dsize);
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

static char *root_path(const char *rel)
{
	return xasprintf("%s/root/%s", dir, rel);
}

START_TEST(merged_usr_and_package_lists)
{
	const struct member m[] = {
	    {"./", 'd', NULL},
	    {"./bin/", 'd', NULL},
	    {"./bin/tool", 'f', "#!/bin/sh\n"},
	    {"./lib/x86_64-linux-gnu/libx.so.1", 'f', "ELF"},
	    {"./usr/src/foo-1.0/dkms.conf", 'f', "PACKAGE_NAME=foo\n"},
	    {"./usr/bin/mawk", 'f', "awk"},
	    {"./usr/share/base-passwd/passwd.master", 'f', "root:x:0:0:root:/root:/bin/sh\n"},
	};
	_cleanup_free_ char *deb = make_deb("foo-dkms", m, sizeof(m) / sizeof(m[0]));
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *tool = root_path("usr/bin/tool");
	_cleanup_free_ char *lib = root_path("usr/lib/x86_64-linux-gnu/libx.so.1");
	_cleanup_free_ char *binlink = root_path("bin");
	_cleanup_free_ char *awk = root_path("usr/bin/awk");
	_cleanup_free_ char *passwd = root_path("etc/passwd");
	_cleanup_free_ char *conf = NULL;
	char target[64] = "";
	struct stat st;
	const char *debs[] = {deb};

	ck_assert_msg(buildroot_create(root, debs, NULL, 1, NULL) == 0, "%s", err_msg());
	ck_assert_int_eq(stat(tool, &st), 0);
	ck_assert_int_eq(st.st_mode & 07000, 0); /* no set-id bits */
	ck_assert(path_exists(lib));
	ck_assert_int_gt(readlink(binlink, target, sizeof(target) - 1), 0);
	ck_assert_str_eq(target, "usr/bin");
	ck_assert(path_exists(awk));
	ck_assert(path_exists(passwd));
	ck_assert_int_eq(buildroot_package_file(root, "foo-dkms", "/dkms.conf", &conf), 0);
	ck_assert_str_eq(conf, "/usr/src/foo-1.0/dkms.conf");
	ck_assert_int_eq(buildroot_package_file(root, "foo-dkms", "/META", &conf), -ENOENT);
	ck_assert_int_eq(buildroot_package_file(root, "bar", "/dkms.conf", &conf), -ENOENT);
	/* a second layout of the same path is refused, the first stays */
	ck_assert_int_eq(buildroot_create(root, debs, NULL, 1, NULL), -EEXIST);
}
END_TEST

START_TEST(dotdot_is_refused_and_nothing_escapes)
{
	const struct member m[] = {{"./usr/ok", 'f', "ok"}, {"./../escaped", 'f', "bad"}};
	_cleanup_free_ char *deb = make_deb("evil", m, 2);
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *escaped = xasprintf("%s/escaped", dir);
	const char *debs[] = {deb};

	ck_assert_int_lt(buildroot_create(root, debs, NULL, 1, NULL), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "evil.deb"));
	ck_assert(!path_exists(escaped));
	ck_assert(!path_exists(root)); /* no partial root */
}
END_TEST

START_TEST(symlink_traversal_is_refused)
{
	_cleanup_free_ char *outside = xasprintf("%s/outside", dir);
	const struct member m[] = {{"./usr/link", 'l', outside},
	                           {"./usr/link/payload", 'f', "bad"}};
	_cleanup_free_ char *deb = make_deb("evil2", m, 2);
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *payload = xasprintf("%s/payload", outside);
	const char *debs[] = {deb};

	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_lt(buildroot_create(root, debs, NULL, 1, NULL), 0);
	ck_assert(!path_exists(payload));
}
END_TEST

START_TEST(absolute_members_stay_inside)
{
	const struct member m[] = {{"/etc/abs", 'f', "inside"}};
	_cleanup_free_ char *deb = make_deb("abs", m, 1);
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *inside = root_path("etc/abs");
	const char *debs[] = {deb};

	ck_assert_msg(buildroot_create(root, debs, NULL, 1, NULL) == 0, "%s", err_msg());
	ck_assert(path_exists(inside));
}
END_TEST

START_TEST(reads_resolve_links_inside_the_root)
{
	/* An absolute link must be followed inside the root, never to the host's file. */
	const struct member m[] = {
	    {"./etc/hostname", 'f', "the-root's\n"},
	    {"./usr/share/link", 'l', "/etc/hostname"},
	    {"./usr/share/up", 'l', "../../../../../../../../etc/hostname"},
	    {"./lib/modules/6.1.0-9-amd64/build", 'l', "/usr/src/linux-headers-6.1.0-9-amd64"},
	    {"./usr/src/linux-headers-6.1.0-9-amd64/.config", 'f',
	     "CONFIG_A=y\nCONFIG_B=\"x y\"\n"},
	};
	_cleanup_free_ char *deb = make_deb("links", m, sizeof(m) / sizeof(m[0]));
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *data = NULL, *data2 = NULL, *cfg = NULL, *a = NULL, *b = NULL;
	size_t len;
	const char *debs[] = {deb};

	ck_assert_msg(buildroot_create(root, debs, NULL, 1, NULL) == 0, "%s", err_msg());
	ck_assert_int_eq(buildroot_read(root, "/usr/share/link", &data, &len), 0);
	ck_assert_str_eq(data, "the-root's\n");
	ck_assert_int_eq(buildroot_read(root, "/usr/share/up", &data2, &len), 0);
	ck_assert_str_eq(data2, "the-root's\n");
	ck_assert_int_eq(buildroot_kernel_config(root, "6.1.0-9-amd64", &cfg, &len), 0);
	a = kconfig_value(cfg, "CONFIG_A");
	b = kconfig_value(cfg, "CONFIG_B");
	ck_assert_str_eq(a, "y");
	ck_assert_str_eq(b, "\"x y\"");
	ck_assert_ptr_null(kconfig_value(cfg, "CONFIG_C"));
	ck_assert_int_eq(buildroot_kernel_config(root, "6.1.0-10-amd64", &cfg, &len), -ENOENT);
	ck_assert(buildroot_exists(root, "/lib/modules/6.1.0-9-amd64/build/.config"));
	ck_assert(!buildroot_exists(root, "/nonexistent"));
}
END_TEST

START_TEST(not_a_deb)
{
	_cleanup_free_ char *junk = xasprintf("%s/junk.deb", dir);
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	const char *debs[] = {junk};

	ck_assert_int_eq(write_file_atomic(junk, "hello", 5, 0644), 0);
	ck_assert_int_lt(buildroot_create(root, debs, NULL, 1, NULL), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "junk.deb"));
	ck_assert(!path_exists(root));
}
END_TEST

START_TEST(unpack_cache_links_packages_in_order)
{
	const struct member ma[] = {{"./usr/share/a", 'f', "A"},
	                            {"./usr/share/common", 'f', "from A"},
	                            {"./usr/share/gone", 'f', "A's"}};
	const struct member mb[] = {{"./bin/tool", 'f', "#!/bin/sh\n"},
	                            {"./usr/share/common", 'f', "from B"},
	                            {"./usr/share/gone", 'l', "a"}};
	_cleanup_free_ char *a = make_deb("pa", ma, 3);
	_cleanup_free_ char *b = make_deb("pb", mb, 3);
	_cleanup_free_ char *cache = xasprintf("%s/unpacked", dir);
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *root2 = xasprintf("%s/root2", dir);
	_cleanup_free_ char *common = root_path("usr/share/common");
	_cleanup_free_ char *common2 = xasprintf("%s/usr/share/common", root2);
	_cleanup_free_ char *index = root_path("var/lib/kldload/packages");
	_cleanup_free_ char *gone = root_path("usr/share/gone");
	_cleanup_free_ char *data = NULL, *data2 = NULL, *idx = NULL, *want = NULL;
	_cleanup_free_ char *cached = NULL, *conf = NULL;
	char sa[SHA256_HEX_LEN], sb[SHA256_HEX_LEN], target[8] = "";
	struct stat st, cst;
	size_t len;
	const char *ab[] = {a, b}, *ba[] = {b, a};
	const char *sums[] = {sa, sb}; /* given to the first layout; the second computes them */

	ck_assert_int_eq(sha256_file(a, sa), 0);
	ck_assert_int_eq(sha256_file(b, sb), 0);
	ck_assert_msg(buildroot_create(root, ab, sums, 2, cache) == 0, "%s", err_msg());
	/* B came last: its file and its link replace A's */
	ck_assert_int_eq(read_file(common, &data, &len), 0);
	ck_assert_str_eq(data, "from B");
	ck_assert_int_eq(readlink(gone, target, sizeof(target) - 1), 1);
	/* the root's file is the cache's file, not a copy */
	cached = xasprintf("%s/%s/usr/share/common", cache, sb);
	ck_assert_int_eq(stat(common, &st), 0);
	ck_assert_int_eq(stat(cached, &cst), 0);
	ck_assert_int_eq(st.st_ino, cst.st_ino);
	/* the index lists both, in order; each package's list and the fixups are there */
	ck_assert_int_eq(read_file(index, &idx, &len), 0);
	want = xasprintf("pa 1.0 %s\npb 1.0 %s\n", sa, sb);
	ck_assert_str_eq(idx, want);
	ck_assert_int_eq(buildroot_package_file(root, "pb", "/tool", &conf), 0);
	ck_assert_str_eq(conf, "/usr/bin/tool");
	/* the other order: A wins, from the same cache */
	ck_assert_msg(buildroot_create(root2, ba, NULL, 2, cache) == 0, "%s", err_msg());
	ck_assert_int_eq(read_file(common2, &data2, &len), 0);
	ck_assert_str_eq(data2, "from A");
}
END_TEST

START_TEST(unpack_cache_refuses_a_directory_through_a_link)
{
	_cleanup_free_ char *outside = xasprintf("%s/outside", dir);
	const struct member ml[] = {{"./usr/x", 'l', outside}};
	const struct member md[] = {{"./usr/x/payload", 'f', "bad"}};
	_cleanup_free_ char *l = make_deb("plink", ml, 1);
	_cleanup_free_ char *d = make_deb("pdir", md, 1);
	_cleanup_free_ char *cache = xasprintf("%s/unpacked", dir);
	_cleanup_free_ char *root = xasprintf("%s/root", dir);
	_cleanup_free_ char *payload = xasprintf("%s/payload", outside);
	const char *debs[] = {l, d};

	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_lt(buildroot_create(root, debs, NULL, 2, cache), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "pdir.deb"));
	ck_assert_ptr_nonnull(strstr(err_msg(), "/usr/x"));
	ck_assert(!path_exists(payload));
	ck_assert(!path_exists(root));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("buildroot");
	TCase *tc = tcase_create("buildroot");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, merged_usr_and_package_lists);
	tcase_add_test(tc, dotdot_is_refused_and_nothing_escapes);
	tcase_add_test(tc, symlink_traversal_is_refused);
	tcase_add_test(tc, absolute_members_stay_inside);
	tcase_add_test(tc, reads_resolve_links_inside_the_root);
	tcase_add_test(tc, not_a_deb);
	tcase_add_test(tc, unpack_cache_links_packages_in_order);
	tcase_add_test(tc, unpack_cache_refuses_a_directory_through_a_link);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
