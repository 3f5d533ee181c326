/* SPDX-License-Identifier: MIT */
/*
 * Kernel module signatures, in the format the kernel's module loader reads: the module, then a
 * DER CMS (PKCS#7) SignedData that signs it detached (no certificates, no signed attributes, so
 * no signing time: the result is deterministic), then struct module_signature with sig_len
 * big-endian, then MODULE_SIG_MAGIC. This is what the kernel's scripts/sign-file writes, byte
 * for byte, for the same key, certificate and hash.
 *
 * Modules are signed before they are compressed; compression follows the target kernel's
 * CONFIG_MODULE_COMPRESS_* in the form that kernel (and kmod) reads.
 */
#ifndef KLDLOAD_CORE_SIGN_H
#define KLDLOAD_CORE_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "stage.h"

struct sign_key;

#define MODULE_SIG_MAGIC         "~Module signature appended~\n"
#define MODULE_SIG_MAGIC_LEN     (sizeof(MODULE_SIG_MAGIC) - 1)
#define MODULE_SIG_PKEY_ID_PKCS7 2

/* The trailer before the magic, as the kernel lays it out (12 bytes). */
struct module_signature {
	uint8_t algo;       /* 0 for PKCS#7 */
	uint8_t hash;       /* 0 for PKCS#7 */
	uint8_t id_type;    /* MODULE_SIG_PKEY_ID_PKCS7 */
	uint8_t signer_len; /* 0 for PKCS#7 */
	uint8_t key_id_len; /* 0 for PKCS#7 */
	uint8_t pad[3];
	uint32_t sig_len; /* big-endian length of the CMS blob */
};

/* Where the parts of a signed module lie. */
struct module_sig_layout {
	size_t content_len; /* the module without its signature */
	size_t sig_off;     /* the CMS blob */
	size_t sig_len;
	struct module_signature trailer; /* sig_len still big-endian */
};

/*
 * Find a module's signature. Returns 1 and fills *layout when the module ends in
 * MODULE_SIG_MAGIC with a consistent trailer, 0 when it carries no signature (layout->content_len
 * is then len), -EBADMSG with err_set() when the magic is there but the trailer is not sound.
 */
int module_sig_parse(const uint8_t *buf, size_t len, struct module_sig_layout *layout);

/* Flags for sign_module(). */
#define SIGN_RESIGN 1u /* strip an existing signature instead of refusing the module */

/*
 * Sign the module `buf` (len bytes; `name` is for messages) with `hash` (an OpenSSL digest name
 * as CONFIG_MODULE_SIG_HASH spells it, e.g. "sha256"). On success *out is a malloc'd signed
 * module of *out_len bytes. An already-signed module is refused with -EEXIST unless
 * SIGN_RESIGN is set, in which case its signature is removed first. Thread-safe for distinct
 * outputs sharing one key.
 */
int sign_module(const struct sign_key *key, const char *hash, const char *name, const uint8_t *buf,
                size_t len, unsigned flags, uint8_t **out, size_t *out_len) MUST_CHECK;

/* Sign the file `in` into `out` (atomically; in == out is allowed). */
int sign_module_file(const struct sign_key *key, const char *hash, const char *in, const char *out,
                     unsigned flags) MUST_CHECK;

/* What verify-module reports. Strings are malloc'd; release with sign_report_release(). */
struct sign_report {
	int signed_;        /* 0: no signature at all */
	char *signer;       /* issuer of the signing certificate, e.g. "CN=...", or NULL */
	char *key_id;       /* serial number (or subject key id) in colon hex, or NULL */
	char *hash;         /* digest name, e.g. "sha256", or NULL */
	char *key_algo;     /* signature algorithm, e.g. "rsaEncryption", or NULL */
	size_t content_len; /* the module without its signature */
	size_t sig_len;
	int checked;   /* a certificate was given */
	int verifies;  /* the signature verifies with that certificate */
	char *problem; /* why it does not verify, or NULL */
};
void sign_report_release(struct sign_report *r);

/*
 * Inspect and, when `cert_pem_or_der` is not NULL, verify a module's signature with that
 * certificate file. Returns 0 with *r filled (also for an unsigned module or one that does not
 * verify: see r->signed_ and r->verifies), or a negative code for an unreadable or malformed file.
 */
int sign_verify_buf(const uint8_t *buf, size_t len, const char *name, const char *cert_path,
                    struct sign_report *r) MUST_CHECK;

/* Module compression as the kernel's CONFIG_MODULE_COMPRESS_* selects it. */
enum module_compress {
	MODULE_COMPRESS_NONE,
	MODULE_COMPRESS_GZIP,
	MODULE_COMPRESS_XZ,
	MODULE_COMPRESS_ZSTD,
};
const char *module_compress_ext(enum module_compress c); /* "", ".gz", ".xz", ".zst" */

/* The module-relevant settings of a kernel's .config. */
struct kernel_sig_config {
	int module_sig; /* CONFIG_MODULE_SIG=y */
	char hash[32];  /* CONFIG_MODULE_SIG_HASH, "" when unset */
	enum module_compress compress;
};
/* Parse a kernel .config; -KLD_E_UNSUPPORTED when it has no module signing or no hash. */
int kernel_sig_config_read(const char *path, struct kernel_sig_config *cfg) MUST_CHECK;
int kernel_sig_config_parse(const char *text, const char *name,
                            struct kernel_sig_config *cfg) MUST_CHECK;

/*
 * Compress a module the way that kernel reads it: xz with CRC32 and a 1 MiB dictionary, zstd,
 * or gzip without a name or timestamp. Deterministic. *out malloc'd.
 */
int module_compress(enum module_compress c, const uint8_t *buf, size_t len, uint8_t **out,
                    size_t *out_len) MUST_CHECK;
/* Undo any of those, detected from the magic bytes; a plain module is copied. *out malloc'd. */
int module_decompress(const uint8_t *buf, size_t len, const char *name, uint8_t **out,
                      size_t *out_len) MUST_CHECK;

/*
 * The sign stage. Reads <build-modules>/<release>/kernel.config and
 * <build-modules>/<release>/modules/<module>/<path>.ko and writes the same layout to env->out_dir with every .ko signed (then compressed if that kernel compresses:
 * .ko.xz, .ko.zst, .ko.gz), plus <out>/signing-cert.pem and signing-cert.der. Keys: plan keys
 * sign_key and sign_cert; when none is set, a per-user key is made once and reused (see keys.h).
 * Plan key resign ("1"/"true"/"yes") re-signs modules that already carry a signature.
 */
int stage_sign(const struct stage_env *env);
/*
 * What the sign stage depends on beyond the plan: the certificate of the key it will use (the
 * configured one, or the per-user default), so that replacing a key file re-signs. Never the
 * private key itself.
 */
struct hasher;
int stage_sign_inputs(const struct plan *plan, struct hasher *h);

#endif
