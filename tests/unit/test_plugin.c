/* SPDX-License-Identifier: MIT */
/* The loader refuses every kind of bad plugin with one line naming the file, and never crashes. */
#include <check.h>
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "plugin.h"
#include "util.h"
#include "check-main.h"

#define GOOD TEST_PLUGIN_DIR
#define BAD  TEST_PLUGIN_DIR "/bad"

static void expect_refused(const char *file, uint32_t kind, const char *const *words)
{
	struct loaded_plugin *p = NULL;
	int r;

	err_clear();
	r = plugin_load(file, kind, &p);
	ck_assert_int_lt(r, 0);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err_msg(), file) != NULL, "message '%s' does not name %s", err_msg(),
	              file);
	ck_assert_msg(!strchr(err_msg(), '\n'), "message is more than one line: %s", err_msg());
	for (; *words; words++)
		ck_assert_msg(strstr(err_msg(), *words), "'%s' not in '%s'", *words, err_msg());
}

#define REFUSED(file, kind, ...)                                                                   \
	expect_refused(file, kind, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(loads_good_plugins)
{
	struct loaded_plugin *d = NULL, *m = NULL;

	ck_assert_int_eq(plugin_load(GOOD "/testdistro.so", KLD_KIND_DISTRO, &d), 0);
	ck_assert_str_eq(d->desc.name, "testdistro");
	ck_assert_str_eq(d->desc.version, "1.0");
	ck_assert_ptr_nonnull(d->ops.distro.fetch);
	ck_assert_ptr_null(d->ops.distro.assemble);
	ck_assert_int_eq(plugin_load(GOOD "/testmod.so", 0, &m), 0);
	ck_assert_uint_eq(m->desc.kind, KLD_KIND_MODULE);
	ck_assert_ptr_nonnull(m->ops.module.declare);
	ck_assert_ptr_null(m->ops.module.build);
	plugin_free(d);
	plugin_free(m);
}
END_TEST

START_TEST(refuses_bad_magic)
{
	REFUSED(BAD "/badmagic.so", 0, "magic 0x12345678");
}
END_TEST

START_TEST(refuses_other_major)
{
	REFUSED(BAD "/oldmajor.so", 0, "ABI 0.0", "this kldload has ABI 1.");
	REFUSED(BAD "/newmajor.so", 0, "ABI 2.0", "this kldload has ABI 1.");
}
END_TEST

START_TEST(refuses_newer_minor)
{
	REFUSED(BAD "/newminor.so", 0, "ABI 1.99", "newer than this kldload's 1.");
}
END_TEST

START_TEST(refuses_unknown_kind)
{
	REFUSED(BAD "/badkind.so", 0, "unknown plugin kind 77");
}
END_TEST

START_TEST(refuses_bad_name)
{
	REFUSED(BAD "/badname.so", 0, "invalid name 'Bad/Name'");
}
END_TEST

START_TEST(refuses_missing_entry)
{
	REFUSED(BAD "/noentry.so", 0, "no entry point kldload_plugin_entry");
	REFUSED(BAD "/nulldesc.so", 0, "returned no descriptor");
}
END_TEST

START_TEST(refuses_unresolved_symbols)
{
	REFUSED(BAD "/unresolved.so", 0, "kldload_test_symbol_that_does_not_exist");
}
END_TEST

START_TEST(refuses_wrong_kind)
{
	REFUSED(BAD "/amodule.so", KLD_KIND_DISTRO, "is a module plugin, not a distro plugin");
}
END_TEST

START_TEST(refuses_non_elf)
{
	char dir[] = "/tmp/kldload-test-XXXXXX";
	_cleanup_free_ char *text = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	text = path_join(dir, "text.so");
	ck_assert_int_eq(write_file_atomic(text, "hello\n", 6, 0644), 0);
	REFUSED(text, 0, "not an ELF shared object");
	/* An ELF file that is not a shared object: a relocatable object's header. */
	{
		_cleanup_free_ char *obj = path_join(dir, "object.so");
		char head[64];
		FILE *f = fopen("/proc/self/exe", "rb");
		ck_assert_uint_eq(fread(head, 1, sizeof(head), f), sizeof(head));
		fclose(f);
		head[16] = ET_REL;
		head[17] = 0;
		ck_assert_int_eq(write_file_atomic(obj, head, sizeof(head), 0644), 0);
		REFUSED(obj, 0, "an ELF file but not a shared object");
	}
	/* A program is not a plugin either. */
	REFUSED("/proc/self/exe", 0, "cannot be loaded");
	REFUSED("/nonexistent/plugin.so", 0, "cannot open");
	rm_rf(dir);
}
END_TEST

START_TEST(finds_by_name_in_order)
{
	char *dirs[] = {BAD, GOOD "/twin", GOOD, NULL};
	_cleanup_free_ char *path = NULL, *path2 = NULL;

	ck_assert_int_eq(plugin_find(dirs, "testmod", &path), 0);
	ck_assert_str_eq(path, GOOD "/testmod.so");
	ck_assert_int_eq(plugin_find(dirs, GOOD "/testdistro.so", &path2), 0);
	ck_assert_int_eq(plugin_find(dirs, "nosuch", &path), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "no plugin named 'nosuch'"));
	ck_assert_int_eq(plugin_find(dirs, "Bad Name", &path), -EINVAL);
}
END_TEST

START_TEST(search_dirs_order)
{
	char **dirs;

	setenv("KLDLOAD_PLUGIN_PATH", "/env/a:/env/b", 1);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	dirs = plugin_search_dirs("/opt/x:/opt/y");
	ck_assert_str_eq(dirs[0], "/opt/x");
	ck_assert_str_eq(dirs[1], "/opt/y");
	ck_assert_str_eq(dirs[2], "/env/a");
	ck_assert_str_eq(dirs[3], "/env/b");
	ck_assert_str_eq(dirs[4], "/xdg/kldload/plugins");
	strv_free(dirs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("plugin");
	TCase *tc = tcase_create("loader");

	tcase_add_test(tc, loads_good_plugins);
	tcase_add_test(tc, refuses_bad_magic);
	tcase_add_test(tc, refuses_other_major);
	tcase_add_test(tc, refuses_newer_minor);
	tcase_add_test(tc, refuses_unknown_kind);
	tcase_add_test(tc, refuses_bad_name);
	tcase_add_test(tc, refuses_missing_entry);
	tcase_add_test(tc, refuses_unresolved_symbols);
	tcase_add_test(tc, refuses_wrong_kind);
	tcase_add_test(tc, refuses_non_elf);
	tcase_add_test(tc, finds_by_name_in_order);
	tcase_add_test(tc, search_dirs_order);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
