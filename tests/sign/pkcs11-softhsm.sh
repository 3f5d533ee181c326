#!/bin/sh
# Signing with a key behind a pkcs11: URI, on a SoftHSM2 token, through the OpenSSL pkcs11
# engine Debian 12 ships (libengine-pkcs11-openssl):
#  - a key made by `kldload keygen` and imported into the token: the token's signatures must be
#    byte for byte what the kernel's sign-file makes with the same key as a PEM file;
#  - a key generated inside the token (it never leaves it), with a certificate made through the
#    engine: the sign stage signs a real module with it, and openssl cms and verify-module
#    accept the signature; the key's URI (and PIN) appear in no output;
#  - the imported key through pkcs11-provider (from bookworm-backports, fetched from the
#    configured mirror's backports suite, loaded by an openssl.cnf made here): same bytes.
# usage: pkcs11-softhsm.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

softhsm_lib=/usr/lib/softhsm/libsofthsm2.so
command -v softhsm2-util >/dev/null && [ -f "$softhsm_lib" ] || kt_skip "softhsm2 is not installed"
command -v pkcs11-tool >/dev/null || kt_skip "opensc (pkcs11-tool) is not installed"
ls /usr/lib/*/engines-3/pkcs11.so >/dev/null 2>&1 || kt_skip "libengine-pkcs11-openssl is not installed"
abi=$(kt_kernel_abi)
[ -n "$abi" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
tree=$(kt_kernel_tree "$abi") || exit 1
sign_file=$(kt_sign_file "$abi") || exit 1
mod=$tree/lib/modules/$abi/kernel/drivers/net/wireguard/wireguard.ko

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$work" >softhsm2.conf
export SOFTHSM2_CONF="$work/softhsm2.conf"
p11() { pkcs11-tool --module "$softhsm_lib" --token-label kldload --login --pin 4321 "$@"; }

softhsm2-util --init-token --free --label kldload --pin 4321 --so-pin 8765 >/dev/null ||
	fail "cannot make a SoftHSM2 token"

# 1. An imported key: same signature as sign-file with the PEM.
"$KLDLOAD" keygen --out pem --subject "/CN=kldload hsm test" >/dev/null 2>&1 || fail "keygen"
softhsm2-util --import pem/signing-key.pem --token kldload --label imported --id 01 \
	--pin 4321 >/dev/null || fail "cannot import the key into the token"
p11 --write-object pem/signing-cert.der --type cert --id 01 --label imported >/dev/null ||
	fail "cannot store the certificate on the token"
strip_signature "$mod" u.ko
"$sign_file" sha256 pem/signing-key.pem pem/signing-cert.pem u.ko sf.ko || fail "sign-file"

uri='pkcs11:token=kldload;object=imported;type=private'
KLDLOAD_SIGN_PIN=4321 "$HELPER" sign sha256 "$uri" pem/signing-cert.pem u.ko hsm1.ko ||
	fail "signing through the engine (p11-kit's module list) failed"
cmp -s sf.ko hsm1.ko || fail "token signature differs from sign-file's with the same key"
# The module named explicitly, PIN in the URI, certificate read from the token as well.
KLDLOAD_PKCS11_MODULE=$softhsm_lib "$HELPER" sign sha256 "$uri;pin-value=4321" \
	'pkcs11:token=kldload;object=imported;type=cert' u.ko hsm2.ko ||
	fail "signing with the certificate on the token failed"
cmp -s sf.ko hsm2.ko || fail "token signature (cert on token) differs from sign-file's"
echo "imported key: token signatures identical to sign-file's with the PEM key"

# A wrong PIN is an error naming the URI, not a crash and not an unsigned module.
KLDLOAD_SIGN_PIN=0000 "$HELPER" sign sha256 "$uri" pem/signing-cert.pem u.ko bad.ko 2>err.txt &&
	fail "signed with a wrong PIN"
grep -q "no private key at $uri" err.txt || { cat err.txt; fail "wrong PIN: no message"; }
[ ! -e bad.ko ] || fail "a wrong PIN left an output file"

# 2. A key born in the token; its certificate made through the engine.
p11 --keypairgen --key-type rsa:3072 --id 02 --label inside >/dev/null ||
	fail "cannot generate a key in the token"
cat >req.cnf <<'EOF'
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = kldload key inside a token
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning,1.3.6.1.4.1.2312.16.1.2
subjectKeyIdentifier = hash
EOF
uri2='pkcs11:token=kldload;object=inside;type=private'
PIN=4321 openssl req -new -x509 -engine pkcs11 -keyform engine -key "$uri2;pin-value=4321" \
	-config req.cnf -days 3650 -sha256 -out inside.pem 2>req.err ||
	{ cat req.err; fail "openssl req through the engine failed"; }

mkdir -p "wk/build-modules/$abi/modules/wireguard/updates/dkms"
cp "$tree/boot/config-$abi" "wk/build-modules/$abi/kernel.config"
cp u.ko "wk/build-modules/$abi/modules/wireguard/updates/dkms/wireguard.ko"
KLDLOAD_SIGN_PIN=4321 KLDLOAD_PKCS11_MODULE=$softhsm_lib "$HELPER" stage wk out "$uri2" \
	"$work/inside.pem" || fail "the sign stage could not use the token"
out=out/$abi/modules/wireguard/updates/dkms/wireguard.ko
"$KLDLOAD" verify-module "$out" --cert inside.pem >report.txt || { cat report.txt; fail "verify"; }
cat report.txt
grep -q '^signer: CN=kldload key inside a token$' report.txt || fail "wrong signer"
extract_signature "$out" sig.der
openssl cms -verify -binary -inform DER -in sig.der -content u.ko -certfile inside.pem \
	-nointern -CAfile inside.pem -purpose any -out /dev/null 2>cms.err ||
	{ cat cms.err; fail "openssl cms -verify refused the token's signature"; }
cmp -s out/signing-cert.pem inside.pem || fail "the stage did not publish the token's certificate"
grep -rl -e "pin-value" -e "pkcs11:" out && fail "the URI or PIN leaked into the output"
echo "token key: the sign stage's signature verifies (openssl cms, verify-module)"

# 3. pkcs11-provider, the OpenSSL 3 way, from bookworm-backports.
if ldd "$HELPER" | grep -q libasan; then
	# The provider dlopen()s the PKCS#11 module with RTLD_DEEPBIND, which ASan refuses.
	echo "PASS: engine checks; pkcs11-provider not checked in a sanitizer build (RTLD_DEEPBIND)"
	exit 0
fi
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
prov=$(kt_suite_fetch_deb "$codename-backports" pkcs11-provider) ||
	kt_skip "no pkcs11-provider in $codename-backports on the mirror (engine checks passed)"
prov_so=$(find "$prov" -name pkcs11.so -path '*ossl-modules*' | head -n1)
[ -n "$prov_so" ] || fail "pkcs11-provider has no ossl-modules/pkcs11.so"
# no-deinit: without it the provider finalizes SoftHSM2 after SoftHSM2's own exit handlers ran,
# and the process (openssl's own CLI as well) crashes at exit.
cat >prov.cnf <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $prov_so
pkcs11-module-path = $softhsm_lib
pkcs11-module-quirks = no-deinit
activate = 1
CNF
OPENSSL_CONF=$work/prov.cnf KLDLOAD_SIGN_PIN=4321 SIGN_VERBOSE=1 "$HELPER" sign sha256 "$uri" \
	pem/signing-cert.pem u.ko prov.ko 2>prov.err ||
	{ cat prov.err; fail "signing through pkcs11-provider failed"; }
grep -q "key from an OpenSSL store provider" prov.err ||
	{ cat prov.err; fail "the provider was not used"; }
cmp -s sf.ko prov.ko || fail "pkcs11-provider signature differs from sign-file's"
OPENSSL_CONF=$work/prov.cnf KLDLOAD_SIGN_PIN=4321 "$HELPER" sign sha256 "$uri" \
	'pkcs11:token=kldload;object=imported;type=cert' u.ko prov2.ko ||
	fail "pkcs11-provider: signing with the certificate on the token failed"
cmp -s sf.ko prov2.ko || fail "pkcs11-provider signature (cert on token) differs"
echo "$(basename "$prov"): signatures identical to sign-file's"
echo "PASS: SoftHSM2 keys through the pkcs11 engine and pkcs11-provider"
