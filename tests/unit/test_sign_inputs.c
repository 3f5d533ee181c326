/* SPDX-License-Identifier: MIT */
/* The sign stage's inputs follow the key's certificate, so replacing a key file re-signs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "plan.h"
#include "sign.h"
#include "util.h"
#include "check-main.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-signin-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("XDG_DATA_HOME", dir, 1);
}

static void teardown(void)
{
	rm_rf(dir);
}

static void inputs(const struct plan *plan, char out[SHA256_HEX_LEN])
{
	struct hasher *h = hasher_new();

	ck_assert_int_eq(stage_sign_inputs(plan, h), 0);
	hasher_final(h, out);
}

static void make_key(const char *kdir)
{
	struct keygen_opts o = {.dir = kdir, .bits = 2048, .force = 1};

	ck_assert_int_eq(keys_generate(&o), 0);
}

START_TEST(default_key_replaced_in_place)
{
	struct plan plan = {0};
	_cleanup_free_ char *kdir = keys_default_dir();
	char none[SHA256_HEX_LEN], a[SHA256_HEX_LEN], a2[SHA256_HEX_LEN], b[SHA256_HEX_LEN];

	inputs(&plan, none);
	make_key(kdir);
	inputs(&plan, a);
	inputs(&plan, a2);
	make_key(kdir);
	inputs(&plan, b);
	ck_assert_str_ne(none, a);
	ck_assert_str_eq(a, a2);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(configured_key_replaced_in_place)
{
	struct plan plan = {0};
	_cleanup_free_ char *kdir = path_join(dir, "mine");
	_cleanup_free_ char *key = path_join(kdir, KEYS_KEY_FILE);
	_cleanup_free_ char *cert = path_join(kdir, KEYS_CERT_PEM_FILE);
	char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN], c[SHA256_HEX_LEN], d[SHA256_HEX_LEN];

	make_key(kdir);
	plan_set(&plan, "sign_key", key, "test");
	inputs(&plan, a);
	plan_set(&plan, "sign_cert", cert, "test");
	inputs(&plan, c);
	make_key(kdir);
	inputs(&plan, d);
	plan_release(&plan);
	plan_set(&plan, "sign_key", key, "test");
	inputs(&plan, b);
	ck_assert_str_ne(c, d);
	/* A key file without a certificate in it contributes nothing beyond its name. */
	ck_assert_str_eq(a, b);
	plan_release(&plan);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sign-inputs");
	TCase *tc = tcase_create("inputs");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, default_key_replaced_in_place);
	tcase_add_test(tc, configured_key_replaced_in_place);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
