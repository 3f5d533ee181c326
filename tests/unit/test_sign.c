/* SPDX-License-Identifier: MIT */
/* Unit tests of module signing: trailer parsing, keys, keygen, sign/verify, config, compression. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509v3.h>

#include "keys.h"
#include "sign.h"
#include "util.h"
#include "check-main.h"

static char tmpdir[64];
static char *key_path, *cert_path, *der_path;
static struct sign_key *key;

/* A buffer that looks like a module to the signer (the signer does not parse ELF). */
static uint8_t module[5000];

static void setup(void)
{
	struct keygen_opts o = {0};

	strcpy(tmpdir, "/tmp/test_sign.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	o.dir = tmpdir;
	o.subject = "/CN=unit test key/O=kldload";
	ck_assert_int_eq(keys_generate(&o), 0);
	key_path = path_join(tmpdir, KEYS_KEY_FILE);
	cert_path = path_join(tmpdir, KEYS_CERT_PEM_FILE);
	der_path = path_join(tmpdir, KEYS_CERT_DER_FILE);
	ck_assert_int_eq(sign_key_load(key_path, cert_path, &key), 0);
	memcpy(module, "\177ELF", 4);
	for (size_t i = 4; i < sizeof(module); i++)
		module[i] = (uint8_t)(i * 7 + 3);
}

static void teardown(void)
{
	sign_key_free(key);
	key = NULL;
	free(key_path);
	free(cert_path);
	free(der_path);
	rm_rf(tmpdir);
}

static void sign_ok(const uint8_t *buf, size_t len, unsigned flags, uint8_t **out, size_t *n)
{
	int r = sign_module(key, "sha256", "test.ko", buf, len, flags, out, n);

	ck_assert_msg(r == 0, "sign_module: %d %s", r, err_msg());
}

START_TEST(keygen_files_and_modes)
{
	struct stat st;
	X509 *x = NULL;

	ck_assert_int_eq(stat(key_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(keys_read_cert(der_path, &x), 0);
	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	/* Not a CA, with a subject key id, code signing and the kernel's module-signing OID. */
	ck_assert(!(X509_get_extension_flags(x) & EXFLAG_CA));
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert(X509_get_extended_key_usage(x) & XKU_CODE_SIGN);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	int found = 0;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		char oid[64];
		OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1);
		found |= strcmp(oid, "1.3.6.1.4.1.2312.16.1.2") == 0;
	}
	ck_assert(found);
	EXTENDED_KEY_USAGE_free(eku);
	X509_free(x);
}
END_TEST

START_TEST(keygen_refuses_to_overwrite)
{
	struct keygen_opts o = {.dir = tmpdir};

	ck_assert_int_eq(keys_generate(&o), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err_msg(), "--force"));
}
END_TEST

START_TEST(loose_key_refused)
{
	struct sign_key *k = NULL;
	_cleanup_free_ char *hint = xasprintf("chmod 600 %s", key_path);

	ck_assert_int_eq(chmod(key_path, 0640), 0);
	ck_assert_int_eq(sign_key_load(key_path, cert_path, &k), -KLD_E_CONFIG);
	ck_assert_ptr_null(k);
	ck_assert_ptr_nonnull(strstr(err_msg(), hint));
}
END_TEST

START_TEST(mismatched_cert_refused)
{
	_cleanup_free_ char *other = path_join(tmpdir, "other");
	_cleanup_free_ char *other_cert = path_join(other, KEYS_CERT_PEM_FILE);
	struct keygen_opts o = {.dir = other};
	struct sign_key *k = NULL;

	ck_assert_int_eq(keys_generate(&o), 0);
	ck_assert_int_eq(sign_key_load(key_path, other_cert, &k), -KLD_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "does not match"));
}
END_TEST

START_TEST(sign_then_verify)
{
	_cleanup_free_ uint8_t *out = NULL;
	size_t n;
	struct sign_report rep;
	struct module_sig_layout lay;

	sign_ok(module, sizeof(module), 0, &out, &n);
	ck_assert_mem_eq(out, module, sizeof(module));
	ck_assert_mem_eq(out + n - MODULE_SIG_MAGIC_LEN, MODULE_SIG_MAGIC, MODULE_SIG_MAGIC_LEN);
	ck_assert_int_eq(module_sig_parse(out, n, &lay), 1);
	ck_assert_uint_eq(lay.content_len, sizeof(module));
	ck_assert_uint_eq(lay.trailer.id_type, MODULE_SIG_PKEY_ID_PKCS7);

	ck_assert_int_eq(sign_verify_buf(out, n, "t", cert_path, &rep), 0);
	ck_assert(rep.signed_ && rep.checked && rep.verifies);
	ck_assert_str_eq(rep.hash, "sha256");
	ck_assert_ptr_nonnull(strstr(rep.signer, "CN=unit test key"));
	ck_assert_ptr_nonnull(rep.key_id);
	sign_report_release(&rep);

	/* One flipped byte in the module: the signature no longer verifies. */
	out[100] ^= 1;
	ck_assert_int_eq(sign_verify_buf(out, n, "t", cert_path, &rep), 0);
	ck_assert(rep.signed_ && rep.checked && !rep.verifies);
	ck_assert_ptr_nonnull(rep.problem);
	sign_report_release(&rep);
}
END_TEST

START_TEST(deterministic)
{
	_cleanup_free_ uint8_t *a = NULL, *b = NULL;
	size_t na, nb;

	sign_ok(module, sizeof(module), 0, &a, &na);
	sign_ok(module, sizeof(module), 0, &b, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(a, b, na);
}
END_TEST

START_TEST(signed_refused_unless_resign)
{
	_cleanup_free_ uint8_t *once = NULL, *twice = NULL;
	uint8_t *none = NULL;
	size_t n1, n2, n0 = 0;

	sign_ok(module, sizeof(module), 0, &once, &n1);
	ck_assert_int_eq(sign_module(key, "sha256", "m.ko", once, n1, 0, &none, &n0), -EEXIST);
	ck_assert_ptr_null(none);
	ck_assert_ptr_nonnull(strstr(err_msg(), "m.ko is already signed"));
	/* Re-signing strips the old signature first: the result equals signing the bare module. */
	sign_ok(once, n1, SIGN_RESIGN, &twice, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(once, twice, n1);
}
END_TEST

START_TEST(bad_trailers)
{
	_cleanup_free_ uint8_t *out = NULL;
	struct module_sig_layout lay;
	size_t n;

	ck_assert_int_eq(module_sig_parse(module, sizeof(module), &lay), 0);
	ck_assert_uint_eq(lay.content_len, sizeof(module));
	sign_ok(module, sizeof(module), 0, &out, &n);
	/* sig_len larger than the file */
	out[n - MODULE_SIG_MAGIC_LEN - 4] = 0x7f;
	ck_assert_int_eq(module_sig_parse(out, n, &lay), -EBADMSG);
	/* only the magic */
	ck_assert_int_eq(
	    module_sig_parse((const uint8_t *)MODULE_SIG_MAGIC, MODULE_SIG_MAGIC_LEN, &lay),
	    -EBADMSG);
}
END_TEST

START_TEST(unknown_hash)
{
	uint8_t *out = NULL;
	size_t n;

	ck_assert_int_eq(sign_module(key, "nohash", "m.ko", module, sizeof(module), 0, &out, &n),
	                 -KLD_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err_msg(), "nohash"));
}
END_TEST

START_TEST(kernel_config)
{
	struct kernel_sig_config c;

	ck_assert_int_eq(kernel_sig_config_parse("CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH="
	                                         "\"sha512\"\nCONFIG_MODULE_COMPRESS_ZSTD=y\n",
	                                         "cfg", &c),
	                 0);
	ck_assert_str_eq(c.hash, "sha512");
	ck_assert_int_eq(c.compress, MODULE_COMPRESS_ZSTD);
	ck_assert_int_eq(kernel_sig_config_parse("CONFIG_MODULE_SIG_HASH=\"sha256\"\n"
	                                         "# CONFIG_MODULE_SIG is not set\n",
	                                         "cfg", &c),
	                 -KLD_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err_msg(), "CONFIG_MODULE_SIG is not set"));
	ck_assert_int_eq(kernel_sig_config_parse("CONFIG_MODULE_SIG=y\n", "cfg", &c),
	                 -KLD_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err_msg(), "CONFIG_MODULE_SIG_HASH"));
}
END_TEST

START_TEST(compress_round_trip)
{
	static const enum module_compress kinds[] = {MODULE_COMPRESS_NONE, MODULE_COMPRESS_GZIP,
	                                             MODULE_COMPRESS_XZ, MODULE_COMPRESS_ZSTD};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		_cleanup_free_ uint8_t *packed = NULL, *plain = NULL;
		size_t np, n;

		ck_assert_int_eq(module_compress(kinds[i], module, sizeof(module), &packed, &np),
		                 0);
		ck_assert_int_eq(module_decompress(packed, np, "m", &plain, &n), 0);
		ck_assert_uint_eq(n, sizeof(module));
		ck_assert_mem_eq(plain, module, n);
		if (kinds[i] == MODULE_COMPRESS_XZ)
			ck_assert_uint_eq(packed[7], 0x01); /* stream flags: CRC32 check */
		if (kinds[i] == MODULE_COMPRESS_GZIP) {
			ck_assert_uint_eq(packed[3], 0);             /* no name, no extra fields */
			ck_assert_mem_eq(packed + 4, "\0\0\0\0", 4); /* no time stamp */
		}
	}
}
END_TEST

START_TEST(corrupt_compressed_refused)
{
	_cleanup_free_ uint8_t *packed = NULL;
	uint8_t *plain = NULL;
	size_t np, n;

	ck_assert_int_eq(module_compress(MODULE_COMPRESS_XZ, module, sizeof(module), &packed, &np),
	                 0);
	packed[np / 2] ^= 0xff;
	ck_assert_int_lt(module_decompress(packed, np, "bad.ko.xz", &plain, &n), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "bad.ko.xz"));
}
END_TEST

static Suite *sign_suite(void)
{
	Suite *s = suite_create("sign");
	TCase *t = tcase_create("sign");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, keygen_files_and_modes);
	tcase_add_test(t, keygen_refuses_to_overwrite);
	tcase_add_test(t, loose_key_refused);
	tcase_add_test(t, mismatched_cert_refused);
	tcase_add_test(t, sign_then_verify);
	tcase_add_test(t, deterministic);
	tcase_add_test(t, signed_refused_unless_resign);
	tcase_add_test(t, bad_trailers);
	tcase_add_test(t, unknown_hash);
	tcase_add_test(t, kernel_config);
	tcase_add_test(t, compress_round_trip);
	tcase_add_test(t, corrupt_compressed_refused);
	suite_add_tcase(s, t);
	return s;
}

CHECK_MAIN(sign_suite)
