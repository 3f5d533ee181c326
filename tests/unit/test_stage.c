/* SPDX-License-Identifier: MIT */
/* The stage runner: order, skipping, failure, missing implementations, module needs. */
#include <check.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin.h"
#include "stage.h"
#include "util.h"
#include "check-main.h"

static char dir[64];
static struct plan plan;
static struct loaded_plugin *plugins[2];

static void setup(void)
{
	_cleanup_free_ char *work = NULL, *out = NULL;

	strcpy(dir, "/tmp/kldload-stage-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	work = path_join(dir, "work");
	out = path_join(dir, "out");
	memset(&plan, 0, sizeof(plan));
	plan_set(&plan, "plugin", "testdistro", "test");
	plan_set(&plan, "work_dir", work, "test");
	plan_set(&plan, "output", out, "test");
	ck_assert_int_eq(
	    plugin_load(TEST_PLUGIN_DIR "/testdistro.so", KLD_KIND_DISTRO, &plugins[0]), 0);
	ck_assert_int_eq(plugin_load(TEST_PLUGIN_DIR "/testmod.so", KLD_KIND_MODULE, &plugins[1]),
	                 0);
}

static void teardown(void)
{
	plugin_free(plugins[0]);
	plugin_free(plugins[1]);
	plan_release(&plan);
	rm_rf(dir);
}

static int run(int first, int last, int force)
{
	err_clear();
	return runner_run(&(struct runner_opts){
	    .plan = &plan,
	    .plugins = plugins,
	    .n_plugins = 2,
	    .first = first,
	    .last = last,
	    .force = force,
	});
}

static char *slurp(const char *rel)
{
	_cleanup_free_ char *path = path_join(dir, rel);
	char *data = NULL;

	ck_assert_msg(read_file(path, &data, NULL) == 0, "cannot read %s", path);
	return data;
}

static ino_t inode_of(const char *rel)
{
	_cleanup_free_ char *path = path_join(dir, rel);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

static int leftovers(void)
{
	_cleanup_free_ char *work = path_join(dir, "work");
	_cleanup_free_ char *cmd = xasprintf("ls -a %s | grep -q -e '\\.tmp-' -e '\\.old-'", work);

	return system(cmd) == 0;
}

START_TEST(runs_stages_in_order_and_publishes)
{
	_cleanup_free_ char *meta = NULL, *needs = NULL, *pub = NULL;

	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	meta = slurp("work/fetch/metadata");
	ck_assert_str_eq(meta, "release=(default)\nstage=fetch\n");
	needs = slurp("work/resolve/needs");
	ck_assert_str_eq(needs, "testmod 1 testmod-source\n"
	                        "testmod 3 testmod-utils-for-6.1.0-test-amd64\n");
	pub = slurp("out/needs");
	ck_assert_str_eq(pub, needs);
	ck_assert(path_exists(strcat(strcpy((char[128]){0}, dir), "/work/fetch.stamp")));
	ck_assert(!leftovers());
}
END_TEST

START_TEST(unchanged_inputs_skip_changed_inputs_rerun)
{
	ino_t first, again, changed;

	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	first = inode_of("work/fetch/metadata");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	again = inode_of("work/fetch/metadata");
	ck_assert_uint_eq(first, again);
	/* The output copy is published again even when the stage is skipped. */
	_cleanup_free_ char *out = path_join(dir, "out/needs");
	unlink(out);
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	ck_assert(path_exists(out));

	plan_set(&plan, "release", "trixie", "test");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	changed = inode_of("work/fetch/metadata");
	ck_assert_uint_ne(first, changed);
	/* Where, not what: the number of jobs does not make a stage run again. */
	plan_set(&plan, "jobs", "7", "test");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	ck_assert_uint_eq(inode_of("work/fetch/metadata"), changed);
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 1), 0);
	ck_assert_uint_ne(inode_of("work/fetch/metadata"), changed);
}
END_TEST

START_TEST(a_file_named_by_the_plan_is_an_input)
{
	_cleanup_free_ char *lock = path_join(dir, "my.lock");
	ino_t first;

	ck_assert_int_eq(write_file_atomic(lock, "one\n", 4, 0644), 0);
	plan_set(&plan, "lock", lock, "test");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_FETCH, 0), 0);
	first = inode_of("work/fetch/metadata");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_FETCH, 0), 0);
	ck_assert_uint_eq(inode_of("work/fetch/metadata"), first);
	/* The same path with other contents: the stage runs again. */
	ck_assert_int_eq(write_file_atomic(lock, "two\n", 4, 0644), 0);
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_FETCH, 0), 0);
	ck_assert_uint_ne(inode_of("work/fetch/metadata"), first);
}
END_TEST

START_TEST(failure_leaves_no_output)
{
	_cleanup_free_ char *resolve = path_join(dir, "work/resolve");

	plan_set(&plan, "testdistro.fail", "resolve", "test");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), -KLD_E_UNSAT);
	ck_assert_str_eq(err_msg(), "testdistro: asked to fail stage resolve");
	ck_assert(!path_exists(resolve));
	ck_assert(!leftovers());
}
END_TEST

START_TEST(failed_rerun_hides_the_earlier_output)
{
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_FETCH, 0), 0);
	/* fetch runs again (new inputs) and fails: its old output must not feed resolve. */
	plan_set(&plan, "release", "trixie", "test");
	plan_set(&plan, "testdistro.fail", "fetch", "test");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_FETCH, 0), -KLD_E_UNSAT);
	plan_set(&plan, "testdistro.fail", "none", "test");
	ck_assert_int_eq(run(STAGE_RESOLVE, STAGE_RESOLVE, 0), -ENOENT);
	ck_assert_ptr_nonnull(
	    strstr(err_msg(), "stage 'resolve' needs the output of stage 'fetch'"));
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
}
END_TEST

START_TEST(unimplemented_stage_is_an_error)
{
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), 0);
	ck_assert_int_eq(run(STAGE_ASSEMBLE, STAGE_ASSEMBLE, 0), -KLD_E_NOTIMPL);
	ck_assert_ptr_nonnull(strstr(
	    err_msg(), "stage 'assemble' is not implemented by the distro plugin 'testdistro'"));
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_BUILD_MODULES, 0), -KLD_E_NOTIMPL);
	ck_assert_ptr_nonnull(strstr(
	    err_msg(), "stage 'build-modules' is not implemented by the module plugin 'testmod'"));
}
END_TEST

START_TEST(a_stage_needs_its_predecessor)
{
	ck_assert_int_eq(run(STAGE_RESOLVE, STAGE_RESOLVE, 0), -ENOENT);
	ck_assert_ptr_nonnull(
	    strstr(err_msg(), "stage 'resolve' needs the output of stage 'fetch'"));
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_FETCH, 0), 0);
	ck_assert_int_eq(run(STAGE_RESOLVE, STAGE_RESOLVE, 0), 0);
}
END_TEST

START_TEST(module_refusal_reaches_the_user)
{
	plan_set(&plan, "testdistro.kernel", "2.6.32", "test");
	ck_assert_int_eq(run(STAGE_FETCH, STAGE_RESOLVE, 0), -KLD_E_UNSUPPORTED);
	ck_assert_str_eq(err_msg(), "testdistro: module testmod: kernel 2.6.32 is too old");
}
END_TEST

START_TEST(stage_names_round_trip)
{
	for (int i = 0; i < STAGE_COUNT; i++)
		ck_assert_int_eq(stage_by_name(stage_name((enum stage_id)i)), i);
	ck_assert_int_eq(stage_by_name("compile"), -1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stage");
	TCase *tc = tcase_create("runner");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, runs_stages_in_order_and_publishes);
	tcase_add_test(tc, unchanged_inputs_skip_changed_inputs_rerun);
	tcase_add_test(tc, a_file_named_by_the_plan_is_an_input);
	tcase_add_test(tc, failure_leaves_no_output);
	tcase_add_test(tc, failed_rerun_hides_the_earlier_output);
	tcase_add_test(tc, unimplemented_stage_is_an_error);
	tcase_add_test(tc, a_stage_needs_its_predecessor);
	tcase_add_test(tc, module_refusal_reaches_the_user);
	tcase_add_test(tc, stage_names_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
