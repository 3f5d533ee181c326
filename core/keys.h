/* SPDX-License-Identifier: MIT */
/*
 * Module signing keys: a private key from a PEM file or a pkcs11: URI (an HSM or a smart card,
 * through an OpenSSL 3 store provider such as pkcs11-provider from bookworm-backports when
 * openssl.cnf loads one, else through the pkcs11 engine Debian 12 ships in main as
 * libengine-pkcs11-openssl), and its X.509 certificate.
 *
 * The PIN of a token or the passphrase of an encrypted PEM key comes from KLDLOAD_SIGN_PIN (or
 * pin-value in the URI); the PKCS#11 module from KLDLOAD_PKCS11_MODULE when p11-kit's default
 * is not wanted.
 */
#ifndef KLDLOAD_CORE_KEYS_H
#define KLDLOAD_CORE_KEYS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "common.h"

struct sign_key {
	EVP_PKEY *pkey; /* private key (possibly a handle into a token) */
	X509 *cert;
	char *key_ref; /* the file or URI, for messages */
	char *cert_ref;
	void *engine; /* ENGINE * when the key lives behind the pkcs11 engine */
	int token;    /* the key is on a token (pkcs11: URI): used from one thread */
};

/*
 * Load a key and its certificate. `key_ref` is a PEM file (refused when group or others may
 * read it) or a pkcs11: URI; `cert_ref` is a PEM or DER file, or a pkcs11: URI, or NULL to take
 * the certificate from the key file itself (the kernel's signing_key.pem holds both). The
 * certificate must match the key.
 */
int sign_key_load(const char *key_ref, const char *cert_ref, struct sign_key **out) MUST_CHECK;
void sign_key_free(struct sign_key *key);

/* Files keygen writes into its directory. */
#define KEYS_KEY_FILE      "signing-key.pem"  /* private key, mode 0600 */
#define KEYS_CERT_PEM_FILE "signing-cert.pem" /* certificate, PEM */
#define KEYS_CERT_DER_FILE "signing-cert.der" /* certificate, DER, for mokutil --import */

struct keygen_opts {
	const char *dir;     /* created 0700 if missing */
	const char *subject; /* "/CN=..../O=..." or "CN=...,O=..."; NULL for a default */
	int bits;            /* RSA modulus size; 0 for 2048 */
	int days;            /* validity; 0 for 36500 */
	int force;           /* replace an existing key */
};

/*
 * Make a new RSA key and a self-signed X.509 v3 certificate fit for module signing:
 * basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage codeSigning and the
 * kernel's module-signing OID 1.3.6.1.4.1.2312.16.1.2, subject and authority key identifiers.
 * Refuses to replace an existing key unless opts->force.
 */
int keys_generate(const struct keygen_opts *opts) MUST_CHECK;

/* The per-user key directory: ${XDG_DATA_HOME:-$HOME/.local/share}/kldload/mok (malloc'd). */
char *keys_default_dir(void);

/*
 * The per-user default key: make it the first time (*created = 1), reuse it afterwards. Sets
 * *key_path and *cert_path (malloc'd).
 */
int keys_ensure_default(char **key_path, char **cert_path, int *created) MUST_CHECK;

/* Is the file at `path` a private key nobody else may read? -EPERM with the chmod hint if not. */
int keys_check_private_mode(const char *path) MUST_CHECK;

/* Read a certificate in PEM or DER. */
int keys_read_cert(const char *path, X509 **out) MUST_CHECK;

/* OpenSSL's error queue as one line (static buffer, per thread), and cleared. */
const char *keys_ssl_error(void);

#endif
