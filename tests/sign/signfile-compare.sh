#!/bin/sh
# kldload's in-process signatures against the target kernel's own scripts/sign-file (from the
# release's linux-kbuild package, downloaded from the configured mirror): for RSA-2048 and
# RSA-4096 keys made by `kldload keygen`, and sha256 and sha512, every output must be byte for
# byte what sign-file writes, `openssl cms -verify` must accept the extracted signature, and
# `kldload verify-module` must report the right signer, hash and a good signature.
# usage: signfile-compare.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

abi=$(kt_kernel_abi)
[ -n "$abi" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
tree=$(kt_kernel_tree "$abi") || exit 1
sign_file=$(kt_sign_file "$abi") || exit 1
[ -x "$sign_file" ] || fail "no sign-file at $sign_file"
moddir=$tree/lib/modules/$abi/kernel

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# A spread of real modules: small, large, with and without Debian's signature stripped first.
find "$moddir" -name '*.ko' | LC_ALL=C sort | awk 'NR % 400 == 1' >mods.txt
find "$moddir" -name '*.ko' -size +2M | LC_ALL=C sort | head -n 2 >>mods.txt
n_mods=$(wc -l <mods.txt)
[ "$n_mods" -ge 10 ] || fail "too few modules in $moddir"

compared=0
for bits in 2048 4096; do
	"$KLDLOAD" keygen --out "k$bits" --bits "$bits" --subject "/CN=kldload test $bits/O=kldload" \
		>/dev/null 2>&1 || fail "keygen --bits $bits failed"
	key=k$bits/signing-key.pem
	cert=k$bits/signing-cert.pem
	for hash in sha256 sha512; do
		i=0
		while read -r mod; do
			i=$((i + 1))
			strip_signature "$mod" u.ko
			"$sign_file" "$hash" "$key" "$cert" u.ko sf.ko ||
				fail "sign-file $hash failed on $mod"
			"$HELPER" sign "$hash" "$key" "$cert" u.ko kl.ko || fail "kldload failed on $mod"
			cmp -s sf.ko kl.ko || fail "RSA-$bits $hash: $mod differs from sign-file's output"
			# Re-signing Debian's signed module strips its signature first: same bytes.
			"$HELPER" sign "$hash" "$key" "$cert" "$mod" rs.ko resign ||
				fail "kldload could not re-sign $mod"
			cmp -s sf.ko rs.ko || fail "RSA-$bits $hash: re-signed $mod differs"
			compared=$((compared + 2))
			if [ $i -le 3 ]; then
				extract_signature kl.ko sig.der
				openssl cms -verify -binary -inform DER -in sig.der -content u.ko \
					-certfile "$cert" -nointern -CAfile "$cert" -purpose any \
					-out /dev/null 2>cms.err ||
					{ cat cms.err; fail "openssl cms -verify refused the signature of $mod"; }
				"$KLDLOAD" verify-module kl.ko --cert "$cert" >report.txt ||
					{ cat report.txt; fail "verify-module refused $mod"; }
				grep -q "^hash algorithm: $hash\$" report.txt || fail "verify-module: wrong hash"
				grep -q "^signer: .*CN=kldload test $bits" report.txt ||
					fail "verify-module: wrong signer"
				grep -q "^signature: verifies" report.txt || fail "verify-module: no verdict"
			fi
		done <mods.txt
		echo "RSA-$bits $hash: $n_mods modules identical to sign-file (also when re-signed)"
	done
done

# A module signed with one key does not verify with another certificate.
"$KLDLOAD" verify-module kl.ko --cert k2048/signing-cert.pem >report.txt && fail "wrong cert verified"
grep -q "does NOT verify" report.txt || fail "verify-module did not say why"
echo "PASS: $compared signatures byte-identical to $sign_file"
