/* SPDX-License-Identifier: MIT */
/* Module signatures in the kernel's appended format. See sign.h. */
#include "sign.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "keys.h"
#include "util.h"

_Static_assert(sizeof(struct module_signature) == 12, "module_signature is 12 bytes");

int module_sig_parse(const uint8_t *buf, size_t len, struct module_sig_layout *layout)
{
	const size_t tail = sizeof(struct module_signature) + MODULE_SIG_MAGIC_LEN;
	struct module_signature ms;
	size_t sig_len;

	memset(layout, 0, sizeof(*layout));
	layout->content_len = len;
	if (len < MODULE_SIG_MAGIC_LEN ||
	    memcmp(buf + len - MODULE_SIG_MAGIC_LEN, MODULE_SIG_MAGIC, MODULE_SIG_MAGIC_LEN) != 0)
		return 0;
	if (len < tail)
		return err_set(-EBADMSG, "signature trailer is cut short");
	memcpy(&ms, buf + len - tail, sizeof(ms));
	sig_len = ntohl(ms.sig_len);
	if (sig_len == 0 || sig_len > len - tail)
		return err_set(-EBADMSG, "signature length %zu does not fit a %zu-byte file",
		               sig_len, len);
	layout->trailer = ms;
	layout->sig_len = sig_len;
	layout->content_len = len - tail - sig_len;
	layout->sig_off = layout->content_len;
	return 1;
}

/* The DER CMS SignedData that sign-file makes: detached, no certificates, no attributes. */
static int make_cms(const struct sign_key *key, const EVP_MD *md, const uint8_t *buf, size_t len,
                    unsigned char **der, int *der_len)
{
	const unsigned flags = CMS_NOCERTS | CMS_BINARY;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	int r = -EINVAL;

	if (len > INT_MAX)
		return err_set(-EFBIG, "module of %zu bytes is too large to sign", len);
	in = BIO_new_mem_buf(buf, (int)len);
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL | CMS_DETACHED | CMS_STREAM);
	if (!in || !cms)
		goto out;
	if (!CMS_add1_signer(cms, key->cert, key->pkey, md, flags | CMS_NOSMIMECAP | CMS_NOATTR))
		goto out;
	if (CMS_final(cms, in, NULL, flags) != 1)
		goto out;
	*der = NULL;
	*der_len = i2d_CMS_ContentInfo(cms, der);
	if (*der_len > 0)
		r = 0;
out:
	if (r < 0)
		err_set(-EINVAL, "cannot sign with %s: %s", key->key_ref, keys_ssl_error());
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return r;
}

static uint8_t *append_signature(const uint8_t *buf, size_t len, const unsigned char *der,
                                 size_t der_len, size_t *out_len)
{
	struct module_signature ms = {.id_type = MODULE_SIG_PKEY_ID_PKCS7,
	                              .sig_len = htonl((uint32_t)der_len)};
	size_t total = len + der_len + sizeof(ms) + MODULE_SIG_MAGIC_LEN;
	uint8_t *out = malloc(total);
	uint8_t *p = out;

	if (!out)
		return NULL;
	memcpy(p, buf, len);
	p += len;
	memcpy(p, der, der_len);
	p += der_len;
	memcpy(p, &ms, sizeof(ms));
	p += sizeof(ms);
	memcpy(p, MODULE_SIG_MAGIC, MODULE_SIG_MAGIC_LEN);
	*out_len = total;
	return out;
}

int sign_module(const struct sign_key *key, const char *hash, const char *name, const uint8_t *buf,
                size_t len, unsigned flags, uint8_t **out, size_t *out_len)
{
	struct module_sig_layout lay;
	const EVP_MD *md = EVP_get_digestbyname(hash);
	unsigned char *der = NULL;
	int der_len, r;

	if (!md)
		return err_set(-KLD_E_UNSUPPORTED, "unknown module signature hash \"%s\"", hash);
	r = module_sig_parse(buf, len, &lay);
	if (r < 0)
		return err_set(r, "%s: %s", name, err_msg());
	if (r == 1 && !(flags & SIGN_RESIGN))
		return err_set(-EEXIST,
		               "%s is already signed; ask for re-signing (--resign) to replace "
		               "its signature",
		               name);
	r = make_cms(key, md, buf, lay.content_len, &der, &der_len);
	if (r < 0)
		return err_set(r, "%s: %s", name, err_msg());
	*out = append_signature(buf, lay.content_len, der, (size_t)der_len, out_len);
	OPENSSL_free(der);
	return *out ? 0 : err_set(-ENOMEM, "%s: out of memory", name);
}

int sign_module_file(const struct sign_key *key, const char *hash, const char *in, const char *out,
                     unsigned flags)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ uint8_t *signed_ = NULL;
	size_t len, signed_len;
	int r = read_file(in, &data, &len);

	if (r < 0)
		return r;
	r = sign_module(key, hash, in, (const uint8_t *)data, len, flags, &signed_, &signed_len);
	if (r < 0)
		return r;
	return write_file_atomic(out, signed_, signed_len, 0644);
}

/* ---- inspection and verification ---- */

void sign_report_release(struct sign_report *r)
{
	free(r->signer);
	free(r->key_id);
	free(r->hash);
	free(r->key_algo);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

static char *hex_colon(const unsigned char *p, size_t n)
{
	char *s = xcalloc(n ? n * 3 : 1, 1);

	for (size_t i = 0; i < n; i++)
		sprintf(s + i * 3, i + 1 < n ? "%02X:" : "%02X", p[i]);
	return s;
}

static char *integer_hex(const ASN1_INTEGER *ai)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	int n = bn ? BN_num_bytes(bn) : 0;
	unsigned char *raw = xcalloc((size_t)n + 1, 1);
	char *s;

	if (bn)
		BN_bn2bin(bn, raw);
	s = hex_colon(raw, (size_t)n);
	free(raw);
	BN_free(bn);
	return s;
}

static char *name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s;
	long len;

	/* "CN=name, O=org": in certificate order, UTF-8 left readable */
	X509_NAME_print_ex(b, name, 0,
	                   (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_CPLUS_SPC |
	                       XN_FLAG_FN_SN);
	len = BIO_get_mem_data(b, &data);
	s = strndup(data, (size_t)len);
	BIO_free(b);
	return s;
}

static char *obj_text(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	char buf[128];
	int nid;

	if (!alg)
		return NULL;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	nid = OBJ_obj2nid(obj);
	if (nid != NID_undef)
		return xstrdup(OBJ_nid2ln(nid));
	OBJ_obj2txt(buf, sizeof(buf), obj, 1);
	return xstrdup(buf);
}

static void describe_signer(CMS_SignerInfo *si, struct sign_report *r)
{
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	X509_ALGOR *dig = NULL, *sig = NULL;

	if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial)) {
		if (issuer)
			r->signer = name_text(issuer);
		if (serial)
			r->key_id = integer_hex(serial);
		else if (keyid)
			r->key_id = hex_colon(ASN1_STRING_get0_data(keyid),
			                      (size_t)ASN1_STRING_length(keyid));
	}
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	r->hash = obj_text(dig);
	r->key_algo = obj_text(sig);
}

/* What the kernel's loader would object to in the trailer before it reads the CMS. */
static const char *trailer_problem(const struct module_signature *ms)
{
	if (ms->id_type != MODULE_SIG_PKEY_ID_PKCS7)
		return "trailer id_type is not PKCS#7";
	if (ms->algo || ms->hash || ms->signer_len || ms->key_id_len || ms->pad[0] || ms->pad[1] ||
	    ms->pad[2])
		return "trailer has non-zero fields the kernel refuses";
	return NULL;
}

static int check_with_cert(CMS_ContentInfo *cms, const uint8_t *buf, size_t len,
                           const char *cert_path, struct sign_report *r)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *cert = NULL;
	BIO *content;
	int rc = keys_read_cert(cert_path, &cert);

	if (rc < 0) {
		sk_X509_free(certs);
		return rc;
	}
	sk_X509_push(certs, cert);
	content = BIO_new_mem_buf(buf, (int)len);
	r->checked = 1;
	r->verifies = CMS_verify(cms, certs, NULL, content, NULL,
	                         CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN) == 1;
	if (!r->verifies)
		r->problem = xstrdup(keys_ssl_error());
	BIO_free(content);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

int sign_verify_buf(const uint8_t *buf, size_t len, const char *name, const char *cert_path,
                    struct sign_report *r)
{
	struct module_sig_layout lay;
	const unsigned char *p;
	CMS_ContentInfo *cms;
	STACK_OF(CMS_SignerInfo) * sis;
	const char *problem;
	int rc = module_sig_parse(buf, len, &lay);

	memset(r, 0, sizeof(*r));
	if (rc < 0)
		return err_set(rc, "%s: %s", name, err_msg());
	r->content_len = lay.content_len;
	if (rc == 0)
		return 0;
	r->signed_ = 1;
	r->sig_len = lay.sig_len;
	p = buf + lay.sig_off;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)lay.sig_len);
	if (!cms || p != buf + lay.sig_off + lay.sig_len) {
		CMS_ContentInfo_free(cms);
		ERR_clear_error();
		return err_set(-EBADMSG, "%s: its signature is not a DER CMS message", name);
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		CMS_ContentInfo_free(cms);
		return err_set(-EBADMSG, "%s: signature has %d signers, the kernel wants one", name,
		               sk_CMS_SignerInfo_num(sis));
	}
	describe_signer(sk_CMS_SignerInfo_value(sis, 0), r);
	problem = trailer_problem(&lay.trailer);
	if (problem)
		r->problem = xstrdup(problem);
	else if (cert_path)
		rc = check_with_cert(cms, buf, lay.content_len, cert_path, r);
	CMS_ContentInfo_free(cms);
	return rc < 0 ? rc : 0;
}
