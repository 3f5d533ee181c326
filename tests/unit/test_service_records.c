/* SPDX-License-Identifier: MIT */
/*
 * Arrays of records that cross the plugin boundary are read with the plugin's own record size
 * (the first record's size field), so a plugin built against an older or newer minor, whose
 * records are smaller or larger than the host's, is still understood.
 */
#include <check.h>
#include <string.h>

#include <kldload/fetch.h>

#include "ctx.h"
#include "fetch_service.h"
#include "util.h"
#include "check-main.h"

/* A record as a plugin of a later minor might have it: the 1.0 record and a member after it. */
struct newer_item {
	struct kld_fetch_item base;
	uint64_t appended;
};

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/kldload-records-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	rm_rf(dir);
}

static char *make_source(const char *name, const char *text)
{
	char *path = path_join(dir, name);

	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

START_TEST(larger_records_are_read_with_their_stride)
{
	struct kld_ctx ctx = {.name = "test"};
	_cleanup_free_ char *a = make_source("a", "alpha\n"), *b = make_source("b", "beta\n");
	_cleanup_free_ char *ua = xasprintf("file://%s", a), *ub = xasprintf("file://%s", b);
	_cleanup_free_ char *da = path_join(dir, "a.out"), *db = path_join(dir, "b.out");
	_cleanup_free_ char *got = NULL;
	struct newer_item items[2] = {
	    {{sizeof(struct newer_item), 0, ua, NULL, -1, da, 1, 0}, 0x1111111111111111ull},
	    {{sizeof(struct newer_item), 0, ub, NULL, -1, db, 1, 0}, 0x2222222222222222ull},
	};

	ck_assert_int_eq(fetch_service.download(&ctx, &items[0].base, 2), 0);
	ck_assert_int_eq(items[0].base.result, 0);
	ck_assert_int_eq(items[1].base.result, 0);
	ck_assert_uint_eq(items[0].appended, 0x1111111111111111ull);
	ck_assert_uint_eq(items[1].appended, 0x2222222222222222ull);
	ck_assert_int_eq(read_file(db, &got, NULL), 0);
	ck_assert_str_eq(got, "beta\n");
	free(ctx.error);
}
END_TEST

START_TEST(mixed_or_short_records_are_refused)
{
	struct kld_ctx ctx = {.name = "test"};
	struct kld_fetch_item items[2] = {
	    {sizeof(struct kld_fetch_item), 0, "file:///x", NULL, -1, "/nonexistent/x", 0, 0},
	    {sizeof(struct kld_fetch_item) - 8, 0, "file:///y", NULL, -1, "/nonexistent/y", 0, 0},
	};

	ck_assert_int_eq(fetch_service.download(&ctx, items, 2), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ctx.error, "record 1 has another size"));
	items[0].size = 8;
	ck_assert_int_eq(fetch_service.download(&ctx, items, 1), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ctx.error, "smaller than ABI 1.0's"));
	free(ctx.error);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("service-records");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, larger_records_are_read_with_their_stride);
	tcase_add_test(tc, mixed_or_short_records_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
