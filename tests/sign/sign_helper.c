/* SPDX-License-Identifier: MIT */
/*
 * Test driver for the signing code, linked with kldcore:
 *   sign-helper sign HASH KEY CERT|- IN OUT [resign]   sign one module, as sign-file would
 *   sign-helper stage WORK OUT [KEY [CERT]]           run the sign stage on WORK/build-modules
 *   sign-helper compress xz|zstd|gzip IN OUT           compress as the sign stage does
 */
#include <string.h>

#include "keys.h"
#include "log.h"
#include "plan.h"
#include "sign.h"
#include "stage.h"
#include "util.h"

static int fail(const char *what)
{
	fprintf(stderr, "sign-helper: %s: %s\n", what, err_msg());
	return 1;
}

static int do_sign(int argc, char **argv)
{
	struct sign_key *key = NULL;
	int r;

	if (argc < 7)
		return 2;
	r = sign_key_load(argv[3], strcmp(argv[4], "-") ? argv[4] : NULL, &key);
	if (r < 0)
		return fail("key");
	r = sign_module_file(key, argv[2], argv[5], argv[6],
	                     argc > 7 && !strcmp(argv[7], "resign") ? SIGN_RESIGN : 0);
	sign_key_free(key);
	return r < 0 ? fail("sign") : 0;
}

static int do_stage(int argc, char **argv)
{
	struct plan plan = {0};
	struct stage_env env = {
	    .plan = &plan, .stage = "sign", .work_dir = argv[2], .out_dir = argv[3]};
	int r;

	if (argc > 4)
		plan_set(&plan, "sign_key", argv[4], "test");
	if (argc > 5)
		plan_set(&plan, "sign_cert", argv[5], "test");
	if (getenv("SIGN_JOBS"))
		plan_set(&plan, "jobs", getenv("SIGN_JOBS"), "test");
	if (getenv("SIGN_RESIGN"))
		plan_set(&plan, "resign", getenv("SIGN_RESIGN"), "test");
	r = stage_sign(&env);
	plan_release(&plan);
	return r < 0 ? fail("stage") : 0;
}

static int do_compress(int argc, char **argv)
{
	enum module_compress c = !strcmp(argv[2], "xz")     ? MODULE_COMPRESS_XZ
	                         : !strcmp(argv[2], "zstd") ? MODULE_COMPRESS_ZSTD
	                                                    : MODULE_COMPRESS_GZIP;
	_cleanup_free_ char *in = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	size_t len, out_len;

	if (read_file(argv[3], &in, &len) < 0 ||
	    module_compress(c, (uint8_t *)in, len, &out, &out_len) < 0 ||
	    write_file_atomic(argv[4], out, out_len, 0644) < 0)
		return fail("compress");
	return 0;
}

int main(int argc, char **argv)
{
	log_setup(getenv("SIGN_VERBOSE") ? 2 : 0, NULL);
	if (argc >= 3 && !strcmp(argv[1], "sign"))
		return do_sign(argc, argv);
	if (argc >= 4 && !strcmp(argv[1], "stage"))
		return do_stage(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "compress"))
		return do_compress(argc, argv);
	fprintf(stderr, "usage: sign-helper sign|stage|compress ...\n");
	return 2;
}
