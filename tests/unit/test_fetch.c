/* SPDX-License-Identifier: MIT */
/* Fetch, verify, solve and lock: the parts that need no server and no OpenPGP key. */
#include <check.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "download.h"
#include "lock.h"
#include "plan.h"
#include "solve.h"
#include "util.h"
#include "verify.h"
#include "check-main.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-fetch-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

static char *put(const char *name, const char *text)
{
	char *path = path_join(dir, name);

	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

/* ---- cleartext signatures ---- */

static const char signed_msg[] = "-----BEGIN PGP SIGNED MESSAGE-----\n"
                                 "Hash: SHA256\n"
                                 "\n"
                                 "Origin: Debian\n"
                                 "- -dashed line\n"
                                 "-----BEGIN PGP SIGNATURE-----\n"
                                 "\n"
                                 "abcd\n"
                                 "-----END PGP SIGNATURE-----\n";

START_TEST(cleartext_split)
{
	_cleanup_free_ char *text = NULL, *sig = NULL;
	size_t tl, sl;

	ck_assert_int_eq(
	    verify_split_cleartext(signed_msg, strlen(signed_msg), "X", &text, &tl, &sig, &sl), 0);
	ck_assert_str_eq(text, "Origin: Debian\n-dashed line");
	ck_assert_ptr_nonnull(strstr(sig, "abcd\n-----END PGP SIGNATURE-----"));
}
END_TEST

START_TEST(cleartext_refuses_extra_data)
{
	_cleanup_free_ char *bad = xasprintf("%sOrigin: Evil\n", signed_msg);
	char *text = NULL, *sig = NULL;
	size_t tl, sl;

	ck_assert_int_eq(verify_split_cleartext(bad, strlen(bad), "X", &text, &tl, &sig, &sl),
	                 -KLD_E_VERIFY);
	ck_assert_ptr_nonnull(strstr(err_msg(), "outside the signed message"));
	ck_assert_int_eq(verify_split_cleartext("Origin: x\n", 10, "X", &text, &tl, &sig, &sl),
	                 -KLD_E_VERIFY);
}
END_TEST

/* ---- Release ---- */

static const char release_text[] =
    "Origin: Debian\n"
    "Suite: stable\n"
    "Codename: trixie\n"
    "Date: Sat, 21 Nov 2026 09:15:44 UTC\n"
    "Valid-Until: Sat, 28 Nov 2026 09:15:44 UTC\n"
    "Components: main contrib\n"
    "Architectures: all amd64\n"
    "Acquire-By-Hash: yes\n"
    "MD5Sum:\n"
    " 3e498904a30e240573dac8ddac594e6f  1961125 main/binary-amd64/Packages.xz\n"
    "SHA256:\n"
    " 4282955DC92873884cfaa4af570a56a64282955dc92873884cfaa4af570a56a6  3992 "
    "main/binary-amd64/Packages.xz\n";

START_TEST(release_fields_and_hashes)
{
	struct release rel;
	const struct release_file *f;

	ck_assert_int_eq(release_parse(release_text, "R", &rel), 0);
	ck_assert_str_eq(rel.codename, "trixie");
	ck_assert_str_eq(rel.components[1], "contrib");
	ck_assert_int_eq(rel.acquire_by_hash, 1);
	ck_assert_int_eq(rel.n_files, 1); /* MD5 lines are not trusted */
	f = release_find(&rel, "main/binary-amd64/Packages.xz");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->size, 3992);
	ck_assert_str_eq(f->sha256,
	                 "4282955dc92873884cfaa4af570a56a64282955dc92873884cfaa4af570a56a6");
	ck_assert_int_eq(release_check(&rel, "R", rel.date + 3600, "trixie"), 0);
	ck_assert_int_eq(release_check(&rel, "R", rel.date + 3600, "stable"), 0);
	ck_assert_int_eq(release_check(&rel, "R", rel.date + 3600, "bookworm"), -KLD_E_VERIFY);
	ck_assert_int_eq(release_check(&rel, "R", rel.valid_until + 1, NULL), -KLD_E_VERIFY);
	ck_assert_ptr_nonnull(strstr(err_msg(), "expired on Sat, 28 Nov 2026"));
	ck_assert_int_eq(release_check(&rel, "R", rel.date - 3600, NULL), -KLD_E_VERIFY);
	release_clear(&rel);
}
END_TEST

START_TEST(release_without_sha256_is_refused)
{
	struct release rel;

	ck_assert_int_eq(release_parse("Suite: x\nMD5Sum:\n 00 1 a\n", "R", &rel), -KLD_E_VERIFY);
	ck_assert_int_eq(release_parse("Suite: x\nDate: someday\n", "R", &rel), -KLD_E_VERIFY);
	ck_assert_int_eq(release_parse_date("Thu, 03 Dec 2026 18:01:13 +0000"), 1796320873);
	ck_assert_int_eq(release_parse_date("Thu, 03 Dec 2026 18:01:13 +0100"), -1);
}
END_TEST

/* ---- lock ---- */

static void lock_add(struct lock *l, const char *name, const char *ver, const char *tags)
{
	struct lock_entry *e;

	l->entries = realloc(l->entries, (l->n_entries + 1) * sizeof(*e));
	e = &l->entries[l->n_entries++];
	*e = (struct lock_entry){xstrdup(name),
	                         xstrdup(ver),
	                         xstrdup("amd64"),
	                         xstrdup("trixie"),
	                         xasprintf("pool/main/%s.deb", name),
	                         42,
	                         "",
	                         xstrdup(tags)};
	memset(e->sha256, 'a', 64);
	e->sha256[64] = '\0';
}

START_TEST(lock_round_trip)
{
	struct lock l = {0}, r = {0};
	_cleanup_free_ char *path = path_join(dir, "kldload.lock");
	_cleanup_free_ char *text = NULL, *url = NULL;
	size_t len;

	l.distro = xstrdup("debian");
	l.release = xstrdup("trixie");
	l.version = xstrdup("13.8");
	l.arch = xstrdup("amd64");
	l.kernel = xstrdup("6.12.117+deb13-amd64");
	l.date_str = xstrdup("Sat, 21 Nov 2026 09:15:44 UTC");
	l.repos = xcalloc(1, sizeof(*l.repos));
	l.repos[0] =
	    (struct lock_repo){xstrdup("trixie"), xstrdup("file:///srv/debian"), xstrdup("trixie"),
	                       xstrdup("Sat, 21 Nov 2026 09:15:44 UTC")};
	l.n_repos = 1;
	lock_add(&l, "zfs-dkms", "2.3.9-1", "build:6.12.117+deb13-amd64,source:zfs");
	lock_add(&l, "apt", "3.0.4", "image");
	ck_assert_int_eq(lock_write(&l, path), 0);
	ck_assert_int_eq(lock_load(path, &r), 0);
	ck_assert_int_eq(r.n_entries, 2);
	ck_assert_str_eq(r.entries[0].name, "apt"); /* sorted */
	ck_assert_str_eq(r.kernel, "6.12.117+deb13-amd64");
	ck_assert_int_eq(r.date, release_parse_date("Sat, 21 Nov 2026 09:15:44 UTC"));
	ck_assert(lock_entry_has_tag(&r.entries[1], "source:zfs"));
	ck_assert(!lock_entry_has_tag(&r.entries[1], "source"));
	url = lock_entry_url(&r, &r.entries[0]);
	ck_assert_str_eq(url, "file:///srv/debian/pool/main/apt.deb");
	ck_assert_int_eq(read_file(path, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\n\napt 3.0.4 amd64 trixie pool/main/apt.deb 42 aaaa"));
	lock_clear(&l);
	lock_clear(&r);
}
END_TEST

START_TEST(lock_errors_name_the_line)
{
	struct lock l = {0};
	_cleanup_free_ char *bad = put("bad.lock", "kldload-lock 1\nrepo: r file:///x r -\n\n"
	                                           "a 1 all r p 1 abc image\n");
	_cleanup_free_ char *order =
	    put("order.lock",
	        "kldload-lock 1\nrepo: r file:///x r -\n\n"
	        "b 1 all r p 1 "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa image\n"
	        "a 1 all r p 1 "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa image\n");

	ck_assert_int_eq(lock_load(bad, &l), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "bad.lock:4: malformed line"));
	ck_assert_int_eq(lock_load(order, &l), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "out of order"));
}
END_TEST

/* ---- downloads and the cache, over file:// ---- */

START_TEST(cache_verifies_and_resumes)
{
	struct cache c;
	struct dl_opts o;
	_cleanup_free_ char *src = put("src", "hello, cache\n");
	_cleanup_free_ char *url = xasprintf("file://%s", src);
	_cleanup_free_ char *cdir = path_join(dir, "cache");
	_cleanup_free_ char *entry = NULL, *part = NULL;
	char sha[SHA256_HEX_LEN];
	struct cache_item it;
	struct cache_stats st;

	sha256_buf("hello, cache\n", 13, sha);
	ck_assert_int_eq(cache_open(&c, cdir), 0);
	dl_opts_init(&o);
	o.retries = 0;
	entry = cache_entry_path(&c, sha);
	/* a partial file from an earlier run is resumed */
	mkdir_p(cdir, 0755);
	part = xasprintf("%s.part", entry);
	{
		_cleanup_free_ char *d = xasprintf("%s/sha256/%.2s", cdir, sha);

		ck_assert_int_eq(mkdir_p(d, 0755), 0);
	}
	ck_assert_int_eq(write_file_atomic(part, "hello", 5, 0644), 0);
	it = (struct cache_item){.url = url, .sha256 = sha, .size = 13};
	ck_assert_int_eq(cache_fetch(&c, &it, 1, &o, &st), 0);
	ck_assert_int_eq(st.fetched, 1);
	ck_assert_int_eq(cache_check(&c, sha, 13), 1);
	ck_assert(!path_exists(part));
	cache_items_clear(&it, 1);
	/* reuse: checked again; a damaged entry is removed and fetched anew */
	ck_assert_int_eq(cache_fetch(&c, &it, 1, &o, &st), 0);
	ck_assert_int_eq(st.reused, 1);
	cache_items_clear(&it, 1);
	ck_assert_int_eq(write_file_atomic(entry, "hellO, cache\n", 13, 0644), 0);
	ck_assert_int_eq(cache_check(&c, sha, 13), 0);
	ck_assert(!path_exists(entry));
	/* a wrong hash: an error naming the URL, and nothing kept */
	memset(sha, 'b', 64);
	it = (struct cache_item){.url = url, .sha256 = sha, .size = 13};
	ck_assert_int_eq(cache_fetch(&c, &it, 1, &o, &st), -KLD_E_VERIFY);
	ck_assert_ptr_nonnull(strstr(err_msg(), "SHA-256"));
	ck_assert_int_eq(cache_check(&c, sha, 13), 0);
	cache_release(&c);
}
END_TEST

START_TEST(download_missing_file)
{
	struct dl_opts o;
	_cleanup_free_ char *dest = path_join(dir, "out");
	struct dl_item it = {.url = "file:///nonexistent/kldload", .dest = dest, .size = -1};

	dl_opts_init(&o);
	ck_assert_int_eq(dl_run(&it, 1, &o), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "file:///nonexistent/kldload"));
	dl_items_clear(&it, 1);
	it.optional = 1;
	ck_assert_int_eq(dl_run(&it, 1, &o), 0);
	ck_assert_int_eq(it.result, -ENOENT);
	dl_items_clear(&it, 1);
}
END_TEST

/* ---- solving ---- */

#define H "0000000000000000000000000000000000000000000000000000000000000000"
static const char packages[] =
    "Package: app\nVersion: 1.0\nArchitecture: amd64\nPriority: optional\n"
    "Depends: libfoo (>= 1.2), mta | postfix\nPre-Depends: base\nFilename: pool/app.deb\n"
    "Size: 10\nSHA256: " H "\n\n"
    "Package: libfoo\nVersion: 1.10\nArchitecture: amd64\nPriority: optional\n"
    "Filename: pool/libfoo_1.10.deb\nSize: 11\nSHA256: " H "\n\n"
    "Package: libfoo\nVersion: 1.9\nArchitecture: amd64\nPriority: optional\n"
    "Filename: pool/libfoo_1.9.deb\nSize: 12\nSHA256: " H "\n\n"
    "Package: postfix\nVersion: 3\nArchitecture: amd64\nPriority: optional\n"
    "Provides: mail-transport-agent\nFilename: pool/postfix.deb\nSize: 13\nSHA256: " H "\n\n"
    "Package: base\nVersion: 1\nArchitecture: all\nPriority: required\nEssential: yes\n"
    "Filename: pool/base.deb\nSize: 14\nSHA256: " H "\n\n"
    "Package: rival\nVersion: 1\nArchitecture: all\nPriority: optional\nBreaks: app\n"
    "Filename: pool/rival.deb\nSize: 15\nSHA256: " H "\n";

START_TEST(solve_debian_semantics)
{
	_cleanup_free_ char *idx = put("Packages", packages);
	_cleanup_free_ char *name = NULL, *ver = NULL;
	struct solver *s;
	struct lock l = {0};
	struct solve_job app = {"app", 0, "runtime:x"};
	struct solve_job clash[] = {{"app", 0, NULL}, {"rival", 0, NULL}};
	struct solve_job old = {"libfoo (<< 1.10)", 0, NULL};
	char **req;

	ck_assert_int_eq(solve_new("amd64", &s), 0);
	ck_assert_int_eq(solve_add_debian(s, "r", "file:///r", "r", NULL, idx), 0);
	ck_assert_int_eq(solve_newest(s, "libfoo", NULL, NULL, &name, &ver), 0);
	ck_assert_str_eq(ver, "1.10"); /* Debian order, not string order */
	req = solve_names_by_priority(s, "required");
	ck_assert_str_eq(req[0], "base");
	ck_assert_ptr_null(req[1]);
	strv_free(req);
	ck_assert_int_eq(solve_run(s, "image", &app, 1, 0), 0);
	ck_assert_int_eq(solve_run(s, "image", clash, 2, 0), -KLD_E_UNSAT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "rival : Conflicts or Breaks: app"));
	ck_assert_msg(solve_run(s, "build:k", &old, 1, 0) == 0, "%s", err_msg());
	ck_assert_int_eq(solve_to_lock(s, &l), 0);
	ck_assert_int_eq(l.n_entries, 5); /* app, base, libfoo 1.10 and 1.9, postfix */
	ck_assert_str_eq(l.entries[0].name, "app");
	ck_assert_str_eq(l.entries[0].tags, "image,runtime:x");
	ck_assert_str_eq(l.entries[1].name, "base");
	ck_assert_str_eq(l.entries[2].version, "1.10");
	ck_assert_str_eq(l.entries[3].tags, "build:k");
	ck_assert_int_eq(l.entries[3].size, 12);
	ck_assert_str_eq(l.entries[4].name, "postfix");
	lock_clear(&l);
	solve_free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fetch");
	TCase *tc = tcase_create("fetch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cleartext_split);
	tcase_add_test(tc, cleartext_refuses_extra_data);
	tcase_add_test(tc, release_fields_and_hashes);
	tcase_add_test(tc, release_without_sha256_is_refused);
	tcase_add_test(tc, lock_round_trip);
	tcase_add_test(tc, lock_errors_name_the_line);
	tcase_add_test(tc, cache_verifies_and_resumes);
	tcase_add_test(tc, download_missing_file);
	tcase_add_test(tc, solve_debian_semantics);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
