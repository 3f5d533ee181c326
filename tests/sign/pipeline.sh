#!/bin/sh
# The sign stage in the real pipeline: a DKMS-style fixture module built by kldload's
# build-modules stage (issue 4's fixture and helpers) for the release's kernel, then
# `kldload --stage sign` in the same work directory with a key given by --sign-key, then that
# kernel booted in QEMU (TCG) twice: with module.sig_enforce=1 it must refuse the module as a
# "module with unavailable key" (it parsed the signature and looked up the key); without
# enforcement it loads it, tainting itself for the unknown key as it does for any such module.
# usage: pipeline.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"
. "$SRC/tests/sign/common.sh"

command -v dpkg-deb >/dev/null || kt_skip "no dpkg-deb"
[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
work=$(mktemp -d /var/tmp/kldload-sign-pipeline.XXXXXX)
trap 'rm -rf "$work"' EXIT

bt_resolve "$work" wireguard || fail "resolve failed"
krel=$(bt_lock_kernel "$work")
bt_fixture_deb "$work/kldtest-hello-dkms.deb" hello || fail "cannot make the fixture package"
bt_add_to_lock "$work" "$work/kldtest-hello-dkms.deb" "$krel" || fail "cannot add the fixture"
bt_build "$work" dkms:kldtest-hello-dkms -q 2>"$work/build.err" ||
	{ cat "$work/build.err"; fail "the fixture module did not build"; }

"$KLDLOAD" keygen --out "$work/keys" --subject "/CN=kldload pipeline test" >/dev/null 2>&1 ||
	fail "keygen failed"
"$KLDLOAD" --plugin-path "$PLUGINS" --plugin debian --release "$(bt_release)" \
	--module dkms:kldtest-hello-dkms --stage sign --work-dir "$work" --cache-dir "$(bt_cache)" \
	--output "$work/out" --sign-key "$work/keys/signing-key.pem" \
	--sign-cert "$work/keys/signing-cert.pem" >"$work/sign.out" 2>"$work/sign.err" ||
	{ cat "$work/sign.err"; fail "kldload --stage sign failed"; }
ko=$work/sign/$krel/modules/dkms-kldtest-hello-dkms/updates/dkms/kldtest.ko
[ -f "$ko" ] || { find "$work/sign"; fail "no signed $ko"; }
cmp -s "$work/out/signing-cert.der" "$work/keys/signing-cert.der" ||
	fail "the certificate was not published to the output directory"
grep -q "signing-cert: $work/out/signing-cert.der" "$work/sign.out" ||
	{ cat "$work/sign.out"; fail "the published certificate was not announced"; }
"$KLDLOAD" verify-module "$ko" --cert "$work/keys/signing-cert.der" >"$work/report.txt" ||
	{ cat "$work/report.txt"; fail "the signed module does not verify"; }
cat "$work/report.txt"
[ "$(/sbin/modinfo -F signer "$ko")" = "kldload pipeline test" ] ||
	fail "modinfo does not name the signer"
echo "modinfo: signer $(/sbin/modinfo -F signer "$ko"), sig_hashalgo $(/sbin/modinfo -F sig_hashalgo "$ko")"

tree=$(kt_kernel_tree "$krel") || kt_skip "no linux-image-$krel-unsigned on the mirror"
cat >"$work/run.sh" <<'RUN'
insmod /kldtest.ko 2>&1
echo "KT-RC $?"
RUN
kt_initramfs "$work/initrd.cpio" "$work/run.sh" "$ko=kldtest.ko" || fail "cannot make the initramfs"
for mode in enforce permissive; do
	cmdline=
	[ $mode = enforce ] && cmdline=module.sig_enforce=1
	kt_boot "$tree/boot/vmlinuz-$krel" "$work/initrd.cpio" "$work/$mode.log" "$cmdline" 300 ||
		{ tail -n 30 "$work/$mode.log"; fail "the kernel did not run the test script"; }
	tr -d '\r' <"$work/$mode.log" >"$work/$mode.txt"
	echo "--- $krel, $mode:"
	sed -n '/KT-BEGIN/,/KT-END/p' "$work/$mode.txt" | sed 's/^/    /'
done
grep -q 'module with unavailable key' "$work/enforce.txt" ||
	fail "sig_enforce: the kernel did not refuse the module for its unknown key"
grep -q '^KT-RC 0' "$work/enforce.txt" && fail "sig_enforce: the module loaded"
grep -q "kldtest: loaded into $krel" "$work/permissive.txt" ||
	fail "without enforcement the signed module did not load"
grep -q '^KT-RC 0' "$work/permissive.txt" || fail "without enforcement insmod failed"
echo "PASS: built, signed by the sign stage, judged by $krel"
