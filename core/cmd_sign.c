/* SPDX-License-Identifier: MIT */
/* `kldload keygen` and `kldload verify-module`. */
#include <getopt.h>
#include <limits.h>
#include <string.h>

#include "commands.h"
#include "exitcode.h"
#include "keys.h"
#include "sign.h"
#include "util.h"

static int usage_keygen(FILE *f, int code)
{
	fprintf(f, "usage: kldload keygen [--out DIR] [--subject /CN=NAME/O=ORG] [--bits N] "
	           "[--days N] [--force]\n"
	           "Makes a module signing key (mode 0600) and its certificate in PEM and DER.\n"
	           "DIR defaults to ${XDG_DATA_HOME:-~/.local/share}/kldload/mok.\n");
	return code;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int exit_for(int r)
{
	if (r == -KLD_E_CONFIG || r == -EEXIST)
		return EXIT_USAGE;
	if (r == -KLD_E_VERIFY || r == -EBADMSG)
		return EXIT_VERIFY;
	return EXIT_FAIL;
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"subject", required_argument, NULL, 's'},
	    {"bits", required_argument, NULL, 'b'},
	    {"days", required_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ char *def = keys_default_dir();
	struct keygen_opts o = {.dir = def};
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:s:b:d:fh", opts, NULL)) != -1) {
		if (c == 'o')
			o.dir = optarg;
		else if (c == 's')
			o.subject = optarg;
		else if (c == 'b' && parse_int(optarg, 2048, 16384, &o.bits) == 0)
			continue;
		else if (c == 'd' && parse_int(optarg, 1, 3650000, &o.days) == 0)
			continue;
		else if (c == 'f')
			o.force = 1;
		else if (c == 'h')
			return usage_keygen(stdout, EXIT_OK);
		else
			return usage_keygen(stderr, EXIT_USAGE);
	}
	if (optind != argc)
		return usage_keygen(stderr, EXIT_USAGE);
	r = keys_generate(&o);
	if (r < 0) {
		fprintf(stderr, "kldload: keygen: %s\n", err_msg());
		return exit_for(r);
	}
	printf("key: %s/%s\ncertificate: %s/%s\ncertificate (DER): %s/%s\n", o.dir, KEYS_KEY_FILE,
	       o.dir, KEYS_CERT_PEM_FILE, o.dir, KEYS_CERT_DER_FILE);
	fprintf(stderr,
	        "kldload: enrol the certificate on each target with `mokutil --import %s/%s` and "
	        "confirm it in MokManager at the next boot\n",
	        o.dir, KEYS_CERT_DER_FILE);
	return EXIT_OK;
}

static int usage_verify(FILE *f, int code)
{
	fprintf(
	    f,
	    "usage: kldload verify-module FILE [--cert CERT]\n"
	    "Reports a module's signer, key id and hash algorithm, and with --cert (PEM or\n"
	    "DER) whether the signature verifies. FILE may be .ko, .ko.xz, .ko.zst or .ko.gz.\n");
	return code;
}

static void print_report(const char *file, const char *cert, const struct sign_report *r)
{
	printf("file: %s\n", file);
	printf("signer: %s\n", r->signer ? r->signer : "(none)");
	printf("key id: %s\n", r->key_id ? r->key_id : "(none)");
	printf("hash algorithm: %s\n", r->hash ? r->hash : "(unknown)");
	printf("key algorithm: %s\n", r->key_algo ? r->key_algo : "(unknown)");
	printf("signature size: %zu\n", r->sig_len);
	if (r->checked && r->verifies)
		printf("signature: verifies with %s\n", cert);
	else if (r->checked || r->problem)
		printf("signature: does NOT verify: %s\n", r->problem ? r->problem : "?");
	else
		printf("signature: not checked (no --cert)\n");
}

static int verify_file(const char *file, const char *cert)
{
	_cleanup_free_ char *raw = NULL;
	_cleanup_free_ uint8_t *mod = NULL;
	size_t raw_len, len;
	struct sign_report rep;
	int r = read_file(file, &raw, &raw_len);

	if (r >= 0)
		r = module_decompress((uint8_t *)raw, raw_len, file, &mod, &len);
	if (r >= 0)
		r = sign_verify_buf(mod, len, file, cert, &rep);
	if (r < 0) {
		fprintf(stderr, "kldload: verify-module: %s\n", err_msg());
		return r == -EBADMSG ? EXIT_VERIFY : exit_for(r);
	}
	if (!rep.signed_) {
		printf("file: %s\nsignature: none\n", file);
		sign_report_release(&rep);
		return EXIT_VERIFY;
	}
	print_report(file, cert, &rep);
	r = (rep.checked && !rep.verifies) || rep.problem ? EXIT_VERIFY : EXIT_OK;
	sign_report_release(&rep);
	return r;
}

int cmd_verify_module(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cert", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cert = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c')
			cert = optarg;
		else if (c == 'h')
			return usage_verify(stdout, EXIT_OK);
		else
			return usage_verify(stderr, EXIT_USAGE);
	}
	if (optind + 1 != argc)
		return usage_verify(stderr, EXIT_USAGE);
	return verify_file(argv[optind], cert);
}
