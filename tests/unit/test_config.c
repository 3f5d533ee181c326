/* SPDX-License-Identifier: MIT */
/* Configuration files: values reach the plan, errors name the file and line. */
#include <check.h>
#include <string.h>

#include "config.h"
#include "util.h"
#include "check-main.h"

static char dir[64];

static char *write_conf(const char *name, const char *text)
{
	char *path = path_join(dir, name);

	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

START_TEST(reads_values_and_groups)
{
	struct plan plan = {0};
	_cleanup_free_ char *path =
	    write_conf("a.conf", "release = \"bookworm\";\n"
	                         "modules = [\"zfs\", \"wireguard\"];\n"
	                         "jobs = 3;\n"
	                         "debian: { components = \"main contrib\"; };\n");

	ck_assert_int_eq(config_load(&plan, path, 1), 0);
	ck_assert_str_eq(plan_get(&plan, "release"), "bookworm");
	ck_assert_str_eq(plan_get(&plan, "modules"), "zfs,wireguard");
	ck_assert_str_eq(plan_get(&plan, "jobs"), "3");
	ck_assert_str_eq(plan_get(&plan, "debian.components"), "main contrib");
	ck_assert_ptr_nonnull(strstr(plan_find(&plan, "jobs")->origin, "a.conf:3"));
	plan_release(&plan);
}
END_TEST

START_TEST(later_file_wins)
{
	struct plan plan = {0};
	_cleanup_free_ char *a =
	    write_conf("a.conf", "release = \"bookworm\";\narch = \"amd64\";\n");
	_cleanup_free_ char *b = write_conf("b.conf", "release = \"trixie\";\n");

	ck_assert_int_eq(config_load(&plan, a, 1), 0);
	ck_assert_int_eq(config_load(&plan, b, 1), 0);
	ck_assert_str_eq(plan_get(&plan, "release"), "trixie");
	ck_assert_str_eq(plan_get(&plan, "arch"), "amd64");
	plan_release(&plan);
}
END_TEST

START_TEST(syntax_error_names_file_and_line)
{
	struct plan plan = {0};
	_cleanup_free_ char *path = write_conf("bad.conf", "release = \"x\";\njobs = ;\n");

	ck_assert_int_eq(config_load(&plan, path, 1), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "bad.conf:2:"));
	plan_release(&plan);
}
END_TEST

START_TEST(wrong_type_names_file_and_line)
{
	struct plan plan = {0};
	_cleanup_free_ char *p1 = write_conf("t1.conf", "\n\njobs = \"many\";\n");
	_cleanup_free_ char *p2 = write_conf("t2.conf", "release = { a = 1; };\n");
	_cleanup_free_ char *p3 = write_conf("t3.conf", "modules = (\"zfs\",\n { a = 1; });\n");

	ck_assert_int_eq(config_load(&plan, p1, 1), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "t1.conf:3: 'jobs' must be a whole number"));
	ck_assert_int_eq(config_load(&plan, p2, 1), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "t2.conf:1: 'release' must be a value"));
	/* A group inside a list, after a good element: the list built so far is not leaked. */
	ck_assert_int_eq(config_load(&plan, p3, 1), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "t3.conf:2:"));
	/* A number where text belongs, and text where a number belongs. */
	_cleanup_free_ char *p4 = write_conf("t4.conf", "release = 12;\n");
	_cleanup_free_ char *p5 = write_conf("t5.conf", "fetch_timeout = \"abc\";\n");
	ck_assert_int_eq(config_load(&plan, p4, 1), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "t4.conf:1: 'release' must be a string"));
	ck_assert_int_eq(config_load(&plan, p5, 1), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(
	    strstr(err_msg(), "t5.conf:1: 'fetch_timeout' must be a whole number"));
	plan_release(&plan);
}
END_TEST

START_TEST(unknown_setting_is_ignored)
{
	struct plan plan = {0};
	_cleanup_free_ char *path =
	    write_conf("u.conf", "colour = \"blue\";\nrelease = \"sid\";\n");

	ck_assert_int_eq(config_load(&plan, path, 1), 0);
	ck_assert_ptr_null(plan_get(&plan, "colour"));
	ck_assert_str_eq(plan_get(&plan, "release"), "sid");
	plan_release(&plan);
}
END_TEST

START_TEST(missing_file)
{
	struct plan plan = {0};
	_cleanup_free_ char *path = path_join(dir, "none.conf");

	ck_assert_int_eq(config_load(&plan, path, 0), 0);
	ck_assert_int_eq(config_load(&plan, path, 1), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "none.conf does not exist"));
}
END_TEST

START_TEST(plan_modules_split_and_dedup)
{
	struct plan plan = {0};
	char **m;

	plan_set(&plan, "modules", "zfs, wireguard,zfs,,dkms:foo", "test");
	m = plan_modules(&plan);
	ck_assert_str_eq(m[0], "zfs");
	ck_assert_str_eq(m[1], "wireguard");
	ck_assert_str_eq(m[2], "dkms:foo");
	ck_assert_ptr_null(m[3]);
	strv_free(m);
	plan_release(&plan);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_values_and_groups);
	tcase_add_test(tc, later_file_wins);
	tcase_add_test(tc, syntax_error_names_file_and_line);
	tcase_add_test(tc, wrong_type_names_file_and_line);
	tcase_add_test(tc, unknown_setting_is_ignored);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, plan_modules_split_and_dedup);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
