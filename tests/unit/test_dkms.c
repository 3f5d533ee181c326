/* SPDX-License-Identifier: MIT */
/*
 * dkms.conf: evaluated by a real bash as dkms does (arrays, quoting, variables, the echo
 * re-evaluation of safe_source), then dkms's read_conf() rules and BUILD_EXCLUSIVE_* checks.
 */
#include <check.h>
#include <string.h>

#include "dkms.h"
#include "util.h"
#include "check-main.h"

static char dir[64];

static const struct dkms_env env = {
    .kernelver = "6.1.0-50-amd64",
    .arch = "x86_64",
    .kernel_source_dir = "/lib/modules/6.1.0-50-amd64/build",
    .dkms_tree = "/var/lib/dkms",
    .source_tree = "/usr/src",
    .install_tree = "/lib/modules",
    .module = "foo",
    .module_version = "1.2",
    .kernel_config = "/lib/modules/6.1.0-50-amd64/build/.config",
};

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-dkms-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

/* Evaluate `text` as a dkms.conf; returns the resolve result, conf filled on success. */
static int eval_text(const char *text, struct dkms_vars *vars, struct dkms_conf *conf,
                     const struct dkms_env *e)
{
	_cleanup_free_ char *path = path_join(dir, "dkms.conf");
	int r;

	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
	r = dkms_eval_host(path, e ? e : &env, vars);
	ck_assert_msg(r == 0, "evaluation failed: %s", err_msg());
	return conf ? dkms_conf_resolve(vars, e ? e : &env, conf) : 0;
}

START_TEST(arrays_and_defaults)
{
	struct dkms_vars v;
	struct dkms_conf c;

	ck_assert_int_eq(
	    eval_text("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.2\n"
	              "BUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/extra\n"
	              "BUILT_MODULE_NAME[2]=bar\nBUILT_MODULE_LOCATION[2]=sub\n"
	              "DEST_MODULE_LOCATION[2]=/updates\nDEST_MODULE_NAME[2]=baz\n"
	              "DEST_MODULE_LOCATION[1]=/kernel/drivers\nBUILT_MODULE_NAME[1]=mid\n"
	              "STRIP[0]=no\n",
	              &v, &c, NULL),
	    0);
	/* a sparse array counts to its highest index, like dkms */
	ck_assert_uint_eq(c.n_modules, 3);
	ck_assert_str_eq(c.modules[0].built_name, "foo");
	ck_assert_str_eq(c.modules[0].built_location, "");
	ck_assert_int_eq(c.modules[0].strip, 0);
	/* STRIP[i] unset takes STRIP[0] */
	ck_assert_int_eq(c.modules[1].strip, 0);
	ck_assert_str_eq(c.modules[2].built_location, "sub/");
	ck_assert_str_eq(c.modules[2].dest_name, "baz");
	ck_assert_str_eq(c.modules[1].dest_name, "mid");
	/* no MAKE: dkms's default */
	ck_assert_str_eq(c.make,
	                 "make -C /lib/modules/6.1.0-50-amd64/build M=/var/lib/dkms/foo/1.2/build");
	dkms_conf_release(&c);
	dkms_vars_release(&v);
}
END_TEST

START_TEST(single_module_defaults_to_package_name)
{
	struct dkms_vars v;
	struct dkms_conf c;

	ck_assert_int_eq(eval_text("PACKAGE_NAME=\"foo\"\nPACKAGE_VERSION='1.2'\n"
	                           "DEST_MODULE_LOCATION[0]=\"/updates/dkms\"\nAUTOINSTALL=yes\n",
	                           &v, &c, NULL),
	                 0);
	ck_assert_uint_eq(c.n_modules, 1);
	ck_assert_str_eq(c.modules[0].built_name, "foo");
	ck_assert_int_eq(c.modules[0].strip, 1);
	ck_assert_int_eq(c.autoinstall, 1);
	dkms_conf_release(&c);
	dkms_vars_release(&v);
}
END_TEST

START_TEST(parallel_jobs_as_dkms_sets_it)
{
	/* NVIDIA's dkms.conf asks for dkms's CPU count itself, behind an `env`. */
	const char *text =
	    "PACKAGE_NAME=nv\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=nv\n"
	    "DEST_MODULE_LOCATION[0]=/updates/dkms\n"
	    "MAKE[0]=\"env NV_VERBOSE=1 \\\n    make ${parallel_jobs+-j$parallel_jobs} "
	    "modules KERNEL_UNAME=${kernelver}\"\n";
	struct dkms_env e = env;
	struct dkms_vars v, v2;
	struct dkms_conf c, c2;

	e.parallel_jobs = "3";
	ck_assert_int_eq(eval_text(text, &v, &c, &e), 0);
	ck_assert_str_eq(c.make, "env NV_VERBOSE=1 make -j3 modules KERNEL_UNAME=6.1.0-50-amd64");
	ck_assert_int_eq(eval_text(text, &v2, &c2, NULL), 0);
	ck_assert_str_eq(c2.make, "env NV_VERBOSE=1 make modules KERNEL_UNAME=6.1.0-50-amd64");
	dkms_conf_release(&c);
	dkms_vars_release(&v);
	dkms_conf_release(&c2);
	dkms_vars_release(&v2);
}
END_TEST

START_TEST(variables_and_quoting)
{
	struct dkms_vars v;
	struct dkms_conf c;

	/* multi-line values are word-split and re-joined as dkms's safe_source does; variables
	 * that dkms defines are visible; a command substitution runs. */
	ck_assert_int_eq(
	    eval_text(
	        "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.2\n"
	        "BUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/extra\n"
	        "MAKE[0]=\"make   -C $kernel_source_dir\n   M=$dkms_tree/$module/$module_version/build\"\n"
	        "PRE_BUILD=\"configure --arch=${arch} --kver=$kernelver --src=${source_tree}\"\n"
	        "POST_BUILD=\"post.sh $(echo computed)\"\n"
	        "CLEAN='make clean'\n",
	        &v, &c, NULL),
	    0);
	ck_assert_str_eq(c.make,
	                 "make -C /lib/modules/6.1.0-50-amd64/build M=/var/lib/dkms/foo/1.2/build");
	ck_assert_str_eq(c.pre_build,
	                 "configure --arch=x86_64 --kver=6.1.0-50-amd64 --src=/usr/src");
	ck_assert_str_eq(c.post_build, "post.sh computed");
	ck_assert_str_eq(c.clean, "make clean");
	dkms_conf_release(&c);
	dkms_vars_release(&v);
}
END_TEST

START_TEST(bash_features_and_escaped_quotes)
{
	struct dkms_vars v;
	struct dkms_conf c;

	/* The shape of OpenZFS's dkms.conf: ${var/%pattern/repl}, [[ ]], and \" inside $(...)
	 * that the second evaluation turns into empty strings. Also a trailing CR (a file edited
	 * on Windows) is dropped. */
	ck_assert_int_eq(
	    eval_text("PACKAGE_NAME=foo\r\nPACKAGE_VERSION=1.2\n"
	              "BUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/extra\n"
	              "PRE_BUILD=\"configure --with-linux=${kernel_source_dir/%build/source}\n"
	              "  $( [[ -n \\\"${NOPE}\\\" ]] && echo --with-qat=\\\"${NOPE}\\\" )\"\n",
	              &v, &c, NULL),
	    0);
	ck_assert_str_eq(c.package_name, "foo");
	ck_assert_str_eq(c.pre_build,
	                 "configure --with-linux=/lib/modules/6.1.0-50-amd64/source --with-qat=");
	dkms_conf_release(&c);
	dkms_vars_release(&v);
}
END_TEST

START_TEST(make_match_and_patch_match)
{
	struct dkms_vars v;
	struct dkms_conf c;

	ck_assert_int_eq(eval_text("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.2\n"
	                           "BUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/extra\n"
	                           "MAKE[0]='make all'\n"
	                           "MAKE[1]='make new'\nMAKE_MATCH[1]='^6\\.'\n"
	                           "MAKE[2]='make old'\nMAKE_MATCH[2]='^5\\.'\n"
	                           "PATCH[0]=always.patch\n"
	                           "PATCH[1]=six.patch\nPATCH_MATCH[1]='^6\\.1'\n"
	                           "PATCH[2]=four.patch\nPATCH_MATCH[2]='^4'\n",
	                           &v, &c, NULL),
	                 0);
	ck_assert_str_eq(c.make, "make new");
	ck_assert_uint_eq(c.n_patches, 2);
	ck_assert_str_eq(c.patches[0], "always.patch");
	ck_assert_str_eq(c.patches[1], "six.patch");
	dkms_conf_release(&c);
	dkms_vars_release(&v);
}
END_TEST

static int excluded(const char *conf_text, const char *kver, const char *arch, const char *kconfig,
                    char **why)
{
	struct dkms_env e = env;
	struct dkms_vars v;
	struct dkms_conf c;
	_cleanup_free_ char *text = xasprintf("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.2\n"
	                                      "BUILT_MODULE_NAME[0]=foo\n"
	                                      "DEST_MODULE_LOCATION[0]=/extra\n%s",
	                                      conf_text);
	int r;

	e.kernelver = kver;
	ck_assert_int_eq(eval_text(text, &v, &c, &e), 0);
	r = dkms_excluded(&c, kver, arch, kconfig, why);
	dkms_conf_release(&c);
	dkms_vars_release(&v);
	return r;
}

START_TEST(exclusive_rules)
{
	const char *kconfig = "CONFIG_FOO=y\nCONFIG_BAR=m\n# CONFIG_BAZ is not set\n";
	char *why = NULL;

	ck_assert_int_eq(
	    excluded("BUILD_EXCLUSIVE_KERNEL='^6\\.'\n", "6.1.0-50-amd64", "x86_64", NULL, &why),
	    0);
	ck_assert_int_eq(
	    excluded("BUILD_EXCLUSIVE_KERNEL='^5\\.'\n", "6.1.0-50-amd64", "x86_64", NULL, &why),
	    1);
	ck_assert_ptr_nonnull(strstr(why, "BUILD_EXCLUSIVE_KERNEL"));
	free(why);
	why = NULL;
	/* OpenZFS's way of saying "never" */
	ck_assert_int_eq(excluded("BUILD_EXCLUSIVE_KERNEL='NOT ON PREEMPT_RT'\n",
	                          "6.1.0-50-rt-amd64", "x86_64", NULL, &why),
	                 1);
	free(why);
	why = NULL;
	ck_assert_int_eq(excluded("BUILD_EXCLUSIVE_ARCH='^(aarch64|arm)'\n", "6.1.0-50-amd64",
	                          "x86_64", NULL, &why),
	                 1);
	free(why);
	why = NULL;
	ck_assert_int_eq(excluded("BUILD_EXCLUSIVE_CONFIG='CONFIG_FOO CONFIG_BAR !CONFIG_BAZ'\n",
	                          "6.1.0-50-amd64", "x86_64", kconfig, &why),
	                 0);
	ck_assert_int_eq(excluded("BUILD_EXCLUSIVE_CONFIG='CONFIG_FOO !CONFIG_BAR'\n",
	                          "6.1.0-50-amd64", "x86_64", kconfig, &why),
	                 1);
	ck_assert_str_eq(why, "BUILD_EXCLUSIVE_CONFIG: the kernel sets CONFIG_BAR");
	free(why);
	why = NULL;
	ck_assert_int_eq(
	    excluded("BUILD_EXCLUSIVE_KERNEL_MIN=6.2\n", "6.1.0-50-amd64", "x86_64", NULL, &why),
	    1);
	free(why);
	why = NULL;
	ck_assert_int_eq(
	    excluded("BUILD_EXCLUSIVE_KERNEL_MAX=6.1.10\n", "6.1.9-1-amd64", "x86_64", NULL, &why),
	    0);
	ck_assert_int_eq(excluded("OBSOLETE_BY=5.6\n", "6.1.0-50-amd64", "x86_64", NULL, &why), 1);
	ck_assert_ptr_nonnull(strstr(why, "BUILD_EXCLUSIVE_KERNEL_MAX 5.6"));
	free(why);
}
END_TEST

START_TEST(bad_confs_are_refused_with_dkms_words)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"PACKAGE_VERSION=1\n", "No 'PACKAGE_NAME'"},
	    {"PACKAGE_NAME=x\n", "No 'PACKAGE_VERSION'"},
	    {"PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a.ko\n"
	     "DEST_MODULE_LOCATION[0]=/extra\n",
	     "ends in '.o' or '.ko'"},
	    {"PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n",
	     "No 'DEST_MODULE_LOCATION'"},
	    {"PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n"
	     "DEST_MODULE_LOCATION[0]=/usr/lib\n",
	     "does not begin with"},
	    {"PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\nBUILT_MODULE_NAME[1]=a\n"
	     "DEST_MODULE_LOCATION[0]=/extra\nDEST_MODULE_LOCATION[1]=/extra\n",
	     "Duplicate module"},
	    {"PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n"
	     "DEST_MODULE_LOCATION[0]=/extra\nAUTOINSTALL=maybe\n",
	     "Unsupported AUTOINSTALL value 'maybe'"},
	    {"PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n"
	     "DEST_MODULE_LOCATION[0]=/extra\nMAKE[0]=make\nMAKE_MATCH[0]='('\n",
	     "bad regular expression"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dkms_vars v;
		struct dkms_conf c;
		int r = eval_text(cases[i].text, &v, &c, NULL);

		ck_assert_int_eq(r, -KLD_E_CONFIG);
		ck_assert_msg(strstr(err_msg(), cases[i].msg), "case %zu: '%s' lacks '%s'", i,
		              err_msg(), cases[i].msg);
		dkms_vars_release(&v);
	}
}
END_TEST

START_TEST(conf_cannot_clobber_dkms_variables_it_does_not_set)
{
	struct dkms_vars v;
	struct dkms_conf c;

	/* Values exported in the evaluator's environment named like dkms.conf variables are
	 * unset before sourcing, as dkms does. */
	ck_assert_int_eq(eval_text("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.2\n"
	                           "BUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/extra\n"
	                           "echo noise\necho more noise >&2\n",
	                           &v, &c, NULL),
	                 0);
	ck_assert_ptr_null(c.pre_build);
	ck_assert_ptr_null(dkms_var(&v, "MAKE", 0));
	dkms_conf_release(&c);
	dkms_vars_release(&v);
}
END_TEST

START_TEST(records_parse)
{
	static const char buf[] = "MAKE\0"
	                          "0\0"
	                          "make x\0"
	                          "STRIP\0"
	                          "3\0"
	                          "no\0";
	struct dkms_vars v;

	ck_assert_int_eq(dkms_vars_parse(buf, sizeof(buf) - 1, &v), 0);
	ck_assert_uint_eq(v.n, 2);
	ck_assert_str_eq(dkms_var(&v, "MAKE", 0), "make x");
	ck_assert_int_eq(dkms_var_count(&v, "STRIP"), 4);
	dkms_vars_release(&v);
	ck_assert_int_eq(dkms_vars_parse("MAKE\0"
	                                 "x\0"
	                                 "y\0",
	                                 7, &v),
	                 -EBADMSG);
	ck_assert_int_eq(dkms_vars_parse("MAKE\0"
	                                 "0",
	                                 6, &v),
	                 -EBADMSG);
}
END_TEST

START_TEST(version_compare)
{
	ck_assert_int_eq(dkms_vercmp("6.1.0-50-amd64", "6.2"), -1);
	ck_assert_int_eq(dkms_vercmp("6.10", "6.9"), 1);
	ck_assert_int_eq(dkms_vercmp("5.6", "5.6"), 0);
	ck_assert_int_eq(dkms_vercmp("6.12.117+deb13-amd64", "6.12.117"), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dkms");
	TCase *tc = tcase_create("dkms");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, arrays_and_defaults);
	tcase_add_test(tc, single_module_defaults_to_package_name);
	tcase_add_test(tc, variables_and_quoting);
	tcase_add_test(tc, parallel_jobs_as_dkms_sets_it);
	tcase_add_test(tc, bash_features_and_escaped_quotes);
	tcase_add_test(tc, make_match_and_patch_match);
	tcase_add_test(tc, exclusive_rules);
	tcase_add_test(tc, bad_confs_are_refused_with_dkms_words);
	tcase_add_test(tc, conf_cannot_clobber_dkms_variables_it_does_not_set);
	tcase_add_test(tc, records_parse);
	tcase_add_test(tc, version_compare);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
