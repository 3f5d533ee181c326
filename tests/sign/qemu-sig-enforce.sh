#!/bin/sh
# The target kernel itself, booted in QEMU (TCG) with module.sig_enforce=1, judges kldload's
# signatures: a module kldload signed with a key the kernel does not trust must be refused as a
# "module with unavailable key" (the signature was parsed and its key looked up), an unsigned one
# as an "unsigned module", a structurally broken signature with an error of its own; the same
# module as Debian signed it loads (so the test can tell the cases apart).
# usage: qemu-sig-enforce.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

abi=$(kt_kernel_abi)
[ -n "$abi" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
tree=$(kt_kernel_tree "$abi") || exit 1
vmlinuz=$tree/boot/vmlinuz-$abi
mod=$tree/lib/modules/$abi/kernel/lib/crc8.ko
[ -f "$mod" ] || fail "no crc8.ko in $tree"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

"$KLDLOAD" keygen --out keys --subject "/CN=kldload untrusted test key" >/dev/null 2>&1 ||
	fail "keygen failed"
mkdir m
cp "$mod" m/debian.ko
"$HELPER" sign sha256 keys/signing-key.pem keys/signing-cert.pem "$mod" m/untrusted.ko resign ||
	fail "kldload could not sign $mod"
strip_signature "$mod" m/unsigned.ko
"$KLDLOAD" verify-module m/untrusted.ko --cert keys/signing-cert.pem >/dev/null ||
	fail "kldload's own signature does not verify"
# A broken CMS: the outer SEQUENCE tag of the signature replaced, trailer left intact.
corrupt_cms m/untrusted.ko m/broken-cms.ko
# A trailer that does not say PKCS#7.
corrupt_trailer_id m/untrusted.ko m/broken-trailer.ko

cat >run.sh <<'EOF'
for m in untrusted unsigned broken-cms broken-trailer debian; do
	echo "KT-CASE $m"
	insmod /m/$m.ko 2>&1
	echo "KT-RC $m $?"
done
EOF
kt_initramfs initrd.cpio run.sh m/untrusted.ko=m/untrusted.ko m/unsigned.ko=m/unsigned.ko \
	m/broken-cms.ko=m/broken-cms.ko m/broken-trailer.ko=m/broken-trailer.ko \
	m/debian.ko=m/debian.ko || fail "cannot build the initramfs"
console=${KT_CONSOLE_OUT:-$work/console.log}
start=$(date +%s)
kt_boot "$vmlinuz" initrd.cpio "$console" "module.sig_enforce=1" 300 ||
	{ tail -n 30 "$console"; fail "the kernel did not run the test script"; }
echo "booted $abi under TCG and ran the cases in $(($(date +%s) - start)) s"

# What the kernel and insmod said for each case, shown, then judged.
tr -d '\r' <"$console" >console.txt
show_case() {
	sed -n "/^KT-CASE $1\$/,/^KT-RC $1 /p" console.txt
}
for c in untrusted unsigned broken-cms broken-trailer debian; do
	echo "--- $c"
	show_case "$c" | sed 's/^/    /'
done
show_case untrusted | grep -q 'Loading of module with unavailable key is rejected' ||
	fail "untrusted key: the kernel did not say 'module with unavailable key'"
show_case untrusted | grep -q 'Key was rejected by service' ||
	fail "untrusted key: insmod did not report EKEYREJECTED"
show_case unsigned | grep -q 'Loading of unsigned module is rejected' ||
	fail "unsigned: the kernel did not say 'unsigned module'"
show_case unsigned | grep -q 'Key was rejected by service' ||
	fail "unsigned: insmod did not report EKEYREJECTED"
show_case broken-cms | grep -q 'Bad message' ||
	fail "broken CMS: insmod did not report EBADMSG"
show_case broken-cms | grep -q 'Key was rejected' &&
	fail "broken CMS was treated like a well-formed signature"
show_case broken-trailer | grep -q 'not signed with expected PKCS#7 message' ||
	fail "broken trailer: the kernel did not say 'not signed with expected PKCS#7 message'"
show_case debian | grep -q '^KT-RC debian 0$' ||
	fail "the Debian-signed control module did not load under sig_enforce"
for c in untrusted unsigned broken-cms broken-trailer; do
	show_case "$c" | grep -q "^KT-RC $c 0\$" && fail "$c loaded under sig_enforce"
done
echo "PASS: the kernel parsed kldload's signature and judged every case as expected"
