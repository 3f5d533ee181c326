/* SPDX-License-Identifier: MIT */
/* Module signing keys: PEM files, pkcs11: URIs, and keygen. See keys.h. */
#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE API: Debian 12's pkcs11 support is an engine */
#include "keys.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509v3.h>
#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#endif

#include "log.h"
#include "util.h"

#define LOG_CAT     "sign"
#define MODSIGN_OID "1.3.6.1.4.1.2312.16.1.2"

const char *keys_ssl_error(void)
{
	static _Thread_local char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int is_pkcs11(const char *ref)
{
	return ref && strncmp(ref, "pkcs11:", 7) == 0;
}

int keys_check_private_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return err_set(-errno, "cannot read private key %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(-KLD_E_CONFIG, "private key %s is not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return err_set(-KLD_E_CONFIG,
		               "private key %s is accessible by group or others (mode %04o); run "
		               "`chmod 600 %s`",
		               path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

/* Passphrase of an encrypted PEM key: KLDLOAD_SIGN_PIN. */
static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pin = getenv("KLDLOAD_SIGN_PIN");
	size_t n;

	(void)rwflag;
	(void)u;
	if (!pin)
		return -1;
	n = strlen(pin);
	if (n > (size_t)size)
		n = (size_t)size;
	memcpy(buf, pin, n);
	return (int)n;
}

int keys_read_cert(const char *path, X509 **out)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x;

	if (!b)
		return err_set(-ENOENT, "cannot read certificate %s: %s", path, keys_ssl_error());
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!x) {
		ERR_clear_error();
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	if (!x)
		return err_set(-KLD_E_CONFIG, "%s holds no PEM or DER certificate", path);
	*out = x;
	return 0;
}

static int load_pem_key(const char *path, EVP_PKEY **out)
{
	BIO *b;
	EVP_PKEY *k;
	int r = keys_check_private_mode(path);

	if (r < 0)
		return r;
	b = BIO_new_file(path, "rb");
	if (!b)
		return err_set(-ENOENT, "cannot read private key %s: %s", path, keys_ssl_error());
	k = PEM_read_bio_PrivateKey(b, NULL, pem_pass_cb, NULL);
	BIO_free(b);
	if (!k)
		return err_set(-KLD_E_CONFIG, "%s holds no usable private key: %s", path,
		               keys_ssl_error());
	*out = k;
	return 0;
}

#ifndef OPENSSL_NO_ENGINE
static ENGINE *engine_open(void)
{
	const char *mod = getenv("KLDLOAD_PKCS11_MODULE");
	ENGINE *e;

	ENGINE_load_builtin_engines();
	e = ENGINE_by_id("pkcs11");
	if (!e)
		return NULL;
	if (mod && !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", mod, 0)) {
		ENGINE_free(e);
		return NULL;
	}
	if (!ENGINE_init(e)) {
		ENGINE_free(e);
		return NULL;
	}
	return e;
}

static void engine_close(void *p)
{
	ENGINE *e = p;

	if (e) {
		ENGINE_finish(e);
		ENGINE_free(e);
	}
}

static int engine_load_key(ENGINE *e, const char *uri, EVP_PKEY **out)
{
	const char *pin = getenv("KLDLOAD_SIGN_PIN");
	EVP_PKEY *k;

	if (pin && !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0))
		return err_set(-KLD_E_CONFIG, "pkcs11 engine refused the PIN: %s",
		               keys_ssl_error());
	k = ENGINE_load_private_key(e, uri, NULL, NULL);
	if (!k)
		return err_set(-KLD_E_CONFIG, "no private key at %s (check the URI and %s): %s",
		               uri, pin ? "the PIN in KLDLOAD_SIGN_PIN" : "set KLDLOAD_SIGN_PIN",
		               keys_ssl_error());
	*out = k;
	return 0;
}

static int engine_load_cert(ENGINE *e, const char *uri, X509 **out)
{
	struct {
		const char *id;
		X509 *cert;
	} params = {uri, NULL};

	if (!ENGINE_ctrl_cmd(e, "LOAD_CERT_CTRL", 0, &params, NULL, 1) || !params.cert)
		return err_set(-KLD_E_CONFIG, "no certificate at %s: %s", uri, keys_ssl_error());
	*out = params.cert;
	return 0;
}
#endif

/* Through an OpenSSL 3 store provider (pkcs11-provider from bookworm-backports, say). */
static int store_load(const char *uri, int want, void **out)
{
	UI_METHOD *ui = UI_UTIL_wrap_read_pem_callback(pem_pass_cb, 0); /* the PIN, if asked */
	OSSL_STORE_CTX *st = OSSL_STORE_open(uri, ui, NULL, NULL, NULL);
	void *found = NULL;

	if (!st) {
		UI_destroy_method(ui);
		return err_set(-KLD_E_CONFIG, "cannot open %s: %s", uri, keys_ssl_error());
	}
	while (!found && !OSSL_STORE_eof(st)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(st);

		if (info && OSSL_STORE_INFO_get_type(info) == want)
			found = want == OSSL_STORE_INFO_PKEY
			            ? (void *)OSSL_STORE_INFO_get1_PKEY(info)
			            : (void *)OSSL_STORE_INFO_get1_CERT(info);
		OSSL_STORE_INFO_free(info);
		if (!info && OSSL_STORE_error(st))
			break;
	}
	OSSL_STORE_close(st);
	UI_destroy_method(ui);
	if (!found)
		return err_set(-KLD_E_CONFIG, "no %s at %s: %s",
		               want == OSSL_STORE_INFO_PKEY ? "private key" : "certificate", uri,
		               keys_ssl_error());
	*out = found;
	return 0;
}

/*
 * A pkcs11: URI: through a store provider when OpenSSL has one for the scheme (pkcs11-provider,
 * loaded by openssl.cnf), else through the pkcs11 engine (libengine-pkcs11-openssl).
 */
static int load_token_key(struct sign_key *k, const char *uri)
{
	int r = store_load(uri, OSSL_STORE_INFO_PKEY, (void **)&k->pkey);

	k->token = 1;
	if (r >= 0) {
		log_debug(LOG_CAT, "%s: key from an OpenSSL store provider", uri);
		return 0;
	}
	ERR_clear_error();
#ifndef OPENSSL_NO_ENGINE
	ENGINE *e = engine_open();

	if (e) {
		k->engine = e;
		return engine_load_key(e, uri, &k->pkey);
	}
	ERR_clear_error();
#endif
	return err_set(-KLD_E_CONFIG,
	               "no private key at %s: install libengine-pkcs11-openssl (or load "
	               "pkcs11-provider in openssl.cnf)",
	               uri);
}

static int load_cert(struct sign_key *k, const char *cert_ref)
{
	if (!cert_ref)
		return keys_read_cert(k->key_ref, &k->cert);
	if (!is_pkcs11(cert_ref))
		return keys_read_cert(cert_ref, &k->cert);
#ifndef OPENSSL_NO_ENGINE
	if (k->engine)
		return engine_load_cert(k->engine, cert_ref, &k->cert);
#endif
	return store_load(cert_ref, OSSL_STORE_INFO_CERT, (void **)&k->cert);
}

void sign_key_free(struct sign_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	X509_free(key->cert);
#ifndef OPENSSL_NO_ENGINE
	engine_close(key->engine);
#endif
	free(key->key_ref);
	free(key->cert_ref);
	free(key);
}

int sign_key_load(const char *key_ref, const char *cert_ref, struct sign_key **out)
{
	struct sign_key *k = xcalloc(1, sizeof(*k));
	int r;

	if (!key_ref || !*key_ref) {
		free(k);
		return err_set(-KLD_E_CONFIG, "no signing key given");
	}
	if (!cert_ref && is_pkcs11(key_ref)) {
		free(k);
		return err_set(-KLD_E_CONFIG, "key %s needs a certificate (sign_cert)", key_ref);
	}
	k->key_ref = xstrdup(key_ref);
	k->cert_ref = xstrdup(cert_ref ? cert_ref : key_ref);
	r = is_pkcs11(key_ref) ? load_token_key(k, key_ref) : load_pem_key(key_ref, &k->pkey);
	if (r >= 0)
		r = load_cert(k, cert_ref);
	if (r >= 0 && X509_check_private_key(k->cert, k->pkey) != 1)
		r = err_set(-KLD_E_CONFIG, "certificate %s does not match key %s", k->cert_ref,
		            k->key_ref);
	if (r < 0) {
		ERR_clear_error();
		sign_key_free(k);
		return r;
	}
	*out = k;
	return 0;
}

/* ---- keygen ---- */

/* "/CN=a/O=b" or "CN=a, O=b" into an X509_NAME. */
static int parse_subject(const char *text, X509_NAME **out)
{
	_cleanup_free_ char *s = xstrdup(text);
	char sep = s[0] == '/' ? '/' : ',';
	X509_NAME *n = X509_NAME_new();
	char *save = NULL;
	int count = 0;

	for (char *tok = strtok_r(s, sep == '/' ? "/" : ",", &save); tok;
	     tok = strtok_r(NULL, sep == '/' ? "/" : ",", &save)) {
		char *eq = strchr(tok, '=');

		while (*tok == ' ')
			tok++;
		if (!eq || eq == tok)
			goto bad;
		*eq = 0;
		if (!X509_NAME_add_entry_by_txt(n, tok, MBSTRING_UTF8,
		                                (const unsigned char *)eq + 1, -1, -1, 0))
			goto bad;
		count++;
	}
	if (!count)
		goto bad;
	*out = n;
	return 0;
bad:
	X509_NAME_free(n);
	ERR_clear_error();
	return err_set(-KLD_E_CONFIG, "bad subject \"%s\": want /CN=name/O=org", text);
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return err_set(-EINVAL, "cannot make extension %s: %s", value, keys_ssl_error());
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : err_set(-ENOMEM, "cannot add extension %s", value);
}

static int set_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return err_set(-EIO, "no random bytes: %s", keys_ssl_error());
	raw[0] &= 0x7f; /* positive, and DER-minimal length stays 16 */
	raw[0] |= 0x40;
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ok ? 0 : err_set(-ENOMEM, "cannot set a serial number");
}

static int fill_cert(X509 *x, EVP_PKEY *pkey, X509_NAME *name, int days)
{
	int r;

	if (!X509_set_version(x, X509_VERSION_3) || set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    !X509_set_pubkey(x, pkey))
		return err_set(-ENOMEM, "cannot fill certificate: %s", keys_ssl_error());
	r = add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
	if (r >= 0)
		r = add_ext(x, NID_key_usage, "critical,digitalSignature");
	if (r >= 0)
		r = add_ext(x, NID_ext_key_usage, "codeSigning," MODSIGN_OID);
	if (r >= 0)
		r = add_ext(x, NID_subject_key_identifier, "hash");
	if (r >= 0)
		r = add_ext(x, NID_authority_key_identifier, "keyid:always");
	if (r >= 0 && !X509_sign(x, pkey, EVP_sha256()))
		r = err_set(-EINVAL, "cannot sign certificate: %s", keys_ssl_error());
	return r;
}

/* A BIO's memory as a malloc'd buffer handed to write_file_atomic. */
static int write_bio(const char *path, BIO *b, mode_t mode)
{
	char *data;
	long len = BIO_get_mem_data(b, &data);

	return write_file_atomic(path, data, (size_t)len, mode);
}

static int write_key(const char *path, EVP_PKEY *pkey)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int fd, r = 0;

	if (!b || !PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(b);
		return err_set(-ENOMEM, "cannot encode private key: %s", keys_ssl_error());
	}
	len = BIO_get_mem_data(b, &data);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		r = err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
	else if (fchmod(fd, 0600) < 0 || write(fd, data, (size_t)len) != len || fsync(fd) < 0 ||
	         rename(tmp, path) < 0)
		r = err_set(-errno, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(b);
	return r;
}

static int write_cert(const char *dir, X509 *x)
{
	_cleanup_free_ char *pem = path_join(dir, KEYS_CERT_PEM_FILE);
	_cleanup_free_ char *der = path_join(dir, KEYS_CERT_DER_FILE);
	BIO *b = BIO_new(BIO_s_mem());
	int r;

	if (!b || !PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		return err_set(-ENOMEM, "cannot encode certificate");
	}
	r = write_bio(pem, b, 0644);
	BIO_free(b);
	if (r < 0)
		return r;
	b = BIO_new(BIO_s_mem());
	if (!b || !i2d_X509_bio(b, x)) {
		BIO_free(b);
		return err_set(-ENOMEM, "cannot encode certificate");
	}
	r = write_bio(der, b, 0644);
	BIO_free(b);
	return r;
}

static void keygen_remove(const char *dir)
{
	static const char *const files[] = {KEYS_KEY_FILE, KEYS_CERT_PEM_FILE, KEYS_CERT_DER_FILE};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = path_join(dir, files[i]);

		unlink(p);
	}
}

static int keygen_write(const struct keygen_opts *o, X509_NAME *name)
{
	_cleanup_free_ char *key_path = path_join(o->dir, KEYS_KEY_FILE);
	EVP_PKEY *pkey = EVP_RSA_gen((unsigned)(o->bits ? o->bits : 2048));
	X509 *x = X509_new();
	int r;

	if (!pkey || !x)
		r = err_set(-ENOMEM, "cannot make an RSA key: %s", keys_ssl_error());
	else
		r = fill_cert(x, pkey, name, o->days ? o->days : 36500);
	if (r >= 0) {
		r = write_key(key_path, pkey);
		if (r >= 0)
			r = write_cert(o->dir, x);
		if (r < 0) /* no half-made pair: a key without its certificate is of no use */
			keygen_remove(o->dir);
	}
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

int keys_generate(const struct keygen_opts *opts)
{
	_cleanup_free_ char *key_path = path_join(opts->dir, KEYS_KEY_FILE);
	X509_NAME *name = NULL;
	int r;

	if (opts->bits && (opts->bits < 2048 || opts->bits > 16384))
		return err_set(-KLD_E_CONFIG, "RSA key size %d is out of range (2048..16384)",
		               opts->bits);
	if (!opts->force && path_exists(key_path))
		return err_set(-EEXIST, "%s already exists; use --force to replace it", key_path);
	r = parse_subject(opts->subject ? opts->subject : "/CN=kldload module signing key", &name);
	if (r < 0)
		return r;
	r = mkdir_p(opts->dir, 0700);
	if (r >= 0)
		r = keygen_write(opts, name);
	X509_NAME_free(name);
	return r;
}

char *keys_default_dir(void)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg == '/')
		return xasprintf("%s/kldload/mok", xdg);
	return xasprintf("%s/.local/share/kldload/mok", home && *home ? home : "/root");
}

int keys_ensure_default(char **key_path, char **cert_path, int *created)
{
	_cleanup_free_ char *dir = keys_default_dir();
	_cleanup_free_ char *key = path_join(dir, KEYS_KEY_FILE);
	_cleanup_free_ char *cert = path_join(dir, KEYS_CERT_PEM_FILE);
	int made = 0;

	if (!path_exists(key)) {
		struct keygen_opts o = {.dir = dir};
		int r = keys_generate(&o);

		if (r < 0)
			return r;
		made = 1;
	}
	*key_path = TAKE_PTR(key);
	*cert_path = TAKE_PTR(cert);
	*created = made;
	return 0;
}
