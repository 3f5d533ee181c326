#!/bin/sh
# `kldload keygen` and `kldload verify-module`, locally (no network): the certificate's
# extensions as openssl reads them, file modes, refusals, exit codes, compressed modules, and
# openssl cms accepting the signature. The "module" is a copy of an ELF binary of the host; the
# signer does not care, and the real-module checks live in the online tests.
# usage: cli.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/sign/common.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

"$KLDLOAD" keygen --out k --subject "/CN=cli test/O=kldload" >out.txt 2>err.txt || fail "keygen"
grep -q "^key: k/signing-key.pem$" out.txt || fail "keygen did not print the key path"
grep -q "mokutil --import k/signing-cert.der" err.txt || fail "keygen gave no enrolment hint"
[ "$(stat -c %a k/signing-key.pem)" = 600 ] || fail "key mode is not 0600"
openssl x509 -in k/signing-cert.der -inform DER -noout -text >cert.txt || fail "DER unreadable"
for want in "Version: 3" "CA:FALSE" "Code Signing, 1.3.6.1.4.1.2312.16.1.2" \
	"X509v3 Subject Key Identifier" "Subject: CN = cli test, O = kldload"; do
	grep -q "$want" cert.txt || fail "certificate lacks '$want'"
done
cmp -s k/signing-cert.der "$(openssl x509 -in k/signing-cert.pem -outform DER -out c.der && echo c.der)" ||
	fail "PEM and DER certificates differ"

"$KLDLOAD" keygen --out k >/dev/null 2>err.txt
[ $? -eq 2 ] || fail "keygen replaced a key without --force"
grep -q -- "--force" err.txt || fail "no --force hint"
"$KLDLOAD" keygen --out k --bits 1024 >/dev/null 2>&1
[ $? -eq 2 ] || fail "keygen accepted a 1024-bit key"
"$KLDLOAD" keygen --out k --subject "no-equals-sign" --force >/dev/null 2>err.txt
[ $? -eq 2 ] || fail "keygen accepted a bad subject"
grep -q 'bad subject "no-equals-sign"' err.txt || fail "bad subject not named"

cp "$(command -v cpio)" m.ko
"$HELPER" sign sha256 k/signing-key.pem k/signing-cert.pem m.ko s.ko || fail "sign"
"$KLDLOAD" verify-module s.ko --cert k/signing-cert.der >r.txt || fail "verify-module (DER cert)"
grep -q '^signature: verifies' r.txt || fail "no verdict"
"$KLDLOAD" verify-module s.ko >r.txt || fail "verify-module without cert"
grep -q '^signature: not checked' r.txt || fail "without --cert it must say not checked"
grep -q '^signer: CN=cli test, O=kldload$' r.txt || { cat r.txt; fail "signer"; }
"$KLDLOAD" verify-module m.ko >r.txt
[ $? -eq 4 ] || fail "an unsigned module must exit 4"
grep -q '^signature: none$' r.txt || fail "unsigned not reported"
python3 -c "
d=bytearray(open('s.ko','rb').read()); d[1000]^=1; open('t.ko','wb').write(d)"
"$KLDLOAD" verify-module t.ko --cert k/signing-cert.pem >r.txt
[ $? -eq 4 ] || fail "a tampered module must exit 4"
grep -q 'does NOT verify' r.txt || fail "tampering not reported"
"$KLDLOAD" verify-module nonexistent.ko >/dev/null 2>&1
[ $? -eq 1 ] || fail "a missing file must exit 1"
"$KLDLOAD" verify-module >/dev/null 2>&1
[ $? -eq 2 ] || fail "no FILE must exit 2"
"$HELPER" sign sha256 k/signing-key.pem k/signing-cert.pem s.ko s2.ko 2>err.txt &&
	fail "an already-signed module was signed again"
grep -q "s.ko is already signed" err.txt || fail "refusal does not name the module"

for c in xz zstd gzip; do
	"$HELPER" compress $c s.ko s.ko.$c || fail "compress $c"
	"$KLDLOAD" verify-module s.ko.$c --cert k/signing-cert.pem >r.txt ||
		{ cat r.txt; fail "verify-module on $c"; }
done
xz --robot --list s.ko.xz | grep -q '^file.*CRC32' || fail "xz check is not CRC32"
gzip -t <s.ko.gzip || fail "gzip -t"

extract_signature s.ko sig.der
strip_signature s.ko plain.ko
cmp -s plain.ko m.ko || fail "content changed by signing"
openssl cms -verify -binary -inform DER -in sig.der -content m.ko -certfile k/signing-cert.pem \
	-nointern -CAfile k/signing-cert.pem -purpose any -out /dev/null 2>/dev/null ||
	fail "openssl cms -verify refused the signature"
echo "PASS"
