#!/bin/sh
# A DKMS-style fixture package made now builds with kldload against the release's real kernel
# headers, in the sandbox, for the kernel the lock names (never the host's); its vermagic names
# that kernel (read by kmod's modinfo); a second run takes the result from the cache; and, with
# KLDLOAD_TEST_QEMU=1 or the qemu label, the module loads into that kernel booted in QEMU (TCG).
# usage: fixture-module.sh SRC_DIR BUILD_DIR [qemu]
set -u
SRC=$1
BUILD=$2
MODE=${3:-}
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"

command -v dpkg-deb >/dev/null || kt_skip "no dpkg-deb"
[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
work=$(mktemp -d /var/tmp/kldload-build-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The build root comes from a real resolve (the kernel's headers, kbuild, compiler, libc...);
# the fixture package is added to it as a recipe's source package would be.
bt_resolve "$work" wireguard || fail "resolve failed"
krel=$(bt_lock_kernel "$work")
[ -n "$krel" ] || fail "the lock names no kernel"
bt_fixture_deb "$work/kldtest-hello-dkms.deb" hello || fail "cannot make the fixture package"
bt_add_to_lock "$work" "$work/kldtest-hello-dkms.deb" "$krel" || fail "cannot add the fixture"

bt_forget_results
start=$(date +%s.%N)
bt_build "$work" dkms:kldtest-hello-dkms -v 2>"$work/build1.err" ||
	{ cat "$work/build1.err"; fail "the fixture module did not build"; }
cold=$(echo "$(date +%s.%N) - $start" | bc)
ko=$work/build-modules/$krel/modules/dkms-kldtest-hello-dkms/updates/dkms/kldtest.ko
[ -f "$ko" ] || { find "$work/build-modules"; fail "no $ko"; }
[ -f "$work/build-modules/$krel/kernel.config" ] || fail "no kernel.config beside the modules"
vermagic=$(/sbin/modinfo -F vermagic "$ko")
case "$vermagic" in
"$krel "*) echo "vermagic: $vermagic" ;;
*) fail "vermagic '$vermagic' does not name $krel" ;;
esac
[ "$(/sbin/modinfo -F name "$ko")" = kldtest ] || fail "modinfo name is not kldtest"
log=$work/build-logs/$krel/dkms-kldtest-hello-dkms.log
grep -q "kldtest: uname -r says $krel, building for $krel" "$log" ||
	{ cat "$log"; fail "uname -r inside the build did not name $krel"; }
grep -q "dkms:kldtest-hello-dkms for $krel: building" "$work/build1.err" || fail "nothing was built"
echo "cold build: ${cold}s"

# Same inputs: the result comes from the cache, nothing is compiled.
start=$(date +%s.%N)
bt_build "$work" dkms:kldtest-hello-dkms -v --force 2>"$work/build2.err" ||
	{ cat "$work/build2.err"; fail "the second run failed"; }
warm=$(echo "$(date +%s.%N) - $start" | bc)
grep -q "dkms:kldtest-hello-dkms for $krel: cached" "$work/build2.err" ||
	{ cat "$work/build2.err"; fail "the second run did not use the cache"; }
[ -f "$ko" ] || fail "the cached result lacks kldtest.ko"
echo "warm run (cached): ${warm}s"

[ "$MODE" = qemu ] || exit 0
tree=$(kt_kernel_tree "$krel") || kt_skip "no linux-image-$krel-unsigned on the mirror"
vmlinuz=$tree/boot/vmlinuz-$krel
cat >"$work/run.sh" <<'RUN'
insmod /kldtest.ko
echo "KT-RC $?"
RUN
kt_initramfs "$work/initrd.cpio" "$work/run.sh" "$ko=kldtest.ko" || fail "cannot make the initramfs"
kt_boot "$vmlinuz" "$work/initrd.cpio" "$work/console.log" "" 300 ||
	{ tail -n 30 "$work/console.log"; fail "the kernel did not run the test script"; }
tr -d '\r' <"$work/console.log" | grep -E 'kldtest|KT-RC'
tr -d '\r' <"$work/console.log" | grep -q "kldtest: loaded into $krel" ||
	fail "the module did not load into $krel"
tr -d '\r' <"$work/console.log" | grep -q '^KT-RC 0' || fail "insmod failed"
echo "kldtest.ko loaded into $krel under QEMU"
