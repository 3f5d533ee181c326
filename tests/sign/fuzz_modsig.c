/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the parsers that read untrusted module files: the signature trailer, the CMS blob
 * (verify-module's reading of it, with and without a certificate) and the decompressors.
 *
 * Built two ways: with clang and -DKLDLOAD_FUZZ=ON as a libFuzzer target (LLVMFuzzerTestOneInput),
 * and always as `fuzz-modsig`, a deterministic driver run by ctest (best under ASan+UBSan): it
 * signs a module-shaped buffer with a fresh key, then feeds the target that module cut short at
 * every length of its tail, with each tail byte flipped, with random bytes sprinkled, and in
 * compressed and damaged compressed forms. Usage: fuzz-modsig [ITERATIONS]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "sign.h"
#include "util.h"

static const char *fuzz_cert; /* a certificate file, when the driver made one */

static void check_buffer(const uint8_t *data, size_t size)
{
	struct module_sig_layout lay;
	struct sign_report rep;
	uint8_t *plain = NULL;
	size_t n;

	if (module_sig_parse(data, size, &lay) == 1 &&
	    (lay.content_len + lay.sig_len > size || lay.sig_off != lay.content_len))
		abort(); /* a layout that does not fit its buffer */
	if (sign_verify_buf(data, size, "fuzz", NULL, &rep) == 0)
		sign_report_release(&rep);
	if (fuzz_cert && sign_verify_buf(data, size, "fuzz", fuzz_cert, &rep) == 0)
		sign_report_release(&rep);
	if (module_decompress(data, size, "fuzz", &plain, &n) == 0)
		free(plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_buffer(data, size);
	return 0;
}

#ifndef KLDLOAD_LIBFUZZER
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void mutate_tail(const uint8_t *mod, size_t len, size_t tail)
{
	uint8_t *buf = malloc(len);

	for (size_t i = 0; i <= tail && i <= len; i++) /* cut short */
		check_buffer(mod, len - i);
	for (size_t i = 1; i <= tail && i <= len; i++) { /* one byte flipped */
		memcpy(buf, mod, len);
		buf[len - i] ^= 0xff;
		check_buffer(buf, len);
	}
	free(buf);
}

static void mutate_random(const uint8_t *mod, size_t len, size_t tail, long iterations)
{
	uint8_t *buf = malloc(len);

	for (long it = 0; it < iterations; it++) {
		int flips = 1 + (int)(next_rand() % 8);

		memcpy(buf, mod, len);
		for (int f = 0; f < flips; f++)
			buf[len - 1 - next_rand() % tail] = (uint8_t)next_rand();
		check_buffer(buf, len - (next_rand() % 4 == 0 ? next_rand() % tail : 0));
	}
	free(buf);
}

static void mutate_compressed(const uint8_t *mod, size_t len, long iterations)
{
	static const enum module_compress kinds[] = {MODULE_COMPRESS_GZIP, MODULE_COMPRESS_XZ,
	                                             MODULE_COMPRESS_ZSTD};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint8_t *packed;
		size_t n;

		if (module_compress(kinds[k], mod, len, &packed, &n) < 0)
			abort();
		check_buffer(packed, n);
		for (long it = 0; it < iterations / 10; it++) {
			uint8_t *buf = malloc(n);

			memcpy(buf, packed, n);
			buf[next_rand() % n] ^= (uint8_t)(1 + next_rand() % 255);
			check_buffer(buf, n - (it % 3 == 0 ? next_rand() % n : 0));
			free(buf);
		}
		free(packed);
	}
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	char dir[] = "/tmp/fuzz-modsig.XXXXXX";
	struct keygen_opts o = {.dir = dir};
	struct sign_key *key = NULL;
	uint8_t module[3000], *mod = NULL;
	size_t len, tail;

	if (!mkdtemp(dir) || keys_generate(&o) < 0)
		return 1;
	_cleanup_free_ char *key_path = path_join(dir, KEYS_KEY_FILE);
	_cleanup_free_ char *cert_path = path_join(dir, KEYS_CERT_PEM_FILE);
	if (sign_key_load(key_path, cert_path, &key) < 0)
		return 1;
	for (size_t i = 0; i < sizeof(module); i++)
		module[i] = (uint8_t)(i * 31 + 7);
	if (sign_module(key, "sha256", "fuzz.ko", module, sizeof(module), 0, &mod, &len) < 0)
		return 1;
	fuzz_cert = cert_path;
	tail = len - sizeof(module);
	mutate_tail(mod, len, tail);
	mutate_random(mod, len, tail, iterations);
	mutate_compressed(mod, len, iterations);
	printf("fuzz-modsig: %zu-byte signature tail, %ld random mutations: no crash\n", tail,
	       iterations);
	free(mod);
	sign_key_free(key);
	rm_rf(dir);
	return 0;
}
#endif
