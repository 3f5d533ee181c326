#!/bin/sh
# The recipes' decisions, end to end through kldload with the release's real build root:
#   wireguard on a kernel that has CONFIG_WIREGUARD builds nothing and says so;
#   zfs refuses a kernel outside its META's Linux-Minimum/Maximum (a fixture zfs source);
#   dkms honours BUILD_EXCLUSIVE_KERNEL, refuses a package without dkms.conf, and wants a name.
# Every refusal leaves no build-modules output.
# usage: recipes.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"

command -v dpkg-deb >/dev/null || kt_skip "no dpkg-deb"
[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
work=$(mktemp -d /var/tmp/kldload-recipes-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

bt_resolve "$work" wireguard || fail "resolve failed"
krel=$(bt_lock_kernel "$work")
for v in oldmeta exclusive renamed insrc; do
	bt_fixture_deb "$work/kldtest-$v-dkms.deb" $v || fail "cannot make fixture $v"
	bt_add_to_lock "$work" "$work/kldtest-$v-dkms.deb" "$krel" || fail "cannot add fixture $v"
done

refused() {
	name=$1
	said=$2
	shift 2
	if bt_build "$work" "$@" 2>"$work/err"; then
		fail "$name: kldload succeeded"
	fi
	grep -q "$said" "$work/err" || { cat "$work/err"; fail "$name: no '$said' in the message"; }
	[ ! -e "$work/build-modules" ] || fail "$name: output left behind"
	echo "$name: refused: $(grep -m1 "$said" "$work/err")"
}

# WireGuard: part of this kernel?
cfg=$(grep '^CONFIG_WIREGUARD=' "$(bt_cache)"/build-roots/*/usr/src/linux-headers-"$krel"/.config | head -n1)
if [ -n "$cfg" ]; then
	bt_forget_results # a cached result replays no recipe message
	bt_build "$work" wireguard 2>"$work/err" || { cat "$work/err"; fail "wireguard failed"; }
	grep -q "has WireGuard built in" "$work/err" || { cat "$work/err"; fail "wireguard said nothing"; }
	[ -f "$work/build-modules/$krel/kernel.config" ] || fail "no kernel.config"
	[ -z "$(find "$work/build-modules/$krel/modules" -name '*.ko')" ] || fail "wireguard built a module"
	echo "wireguard: $(grep -m1 'WireGuard' "$work/err")"
	rm -rf "$work/build-modules" "$work/build-modules.stamp"
fi

# A dkms.conf whose name and version are not its directory's: dkms builds it by the conf's.
bt_build "$work" dkms:kldtest-renamed-dkms 2>"$work/err" >/dev/null ||
	{ cat "$work/err"; tail -20 "$work"/build-logs/*/dkms-kldtest-renamed-dkms.log; fail "renamed fixture failed"; }
[ -f "$work/build-modules/$krel/modules/dkms-kldtest-renamed-dkms/updates/dkms/kldtest.ko" ] ||
	fail "renamed fixture: no kldtest.ko"
grep -q "building kldtest-renamed/1.0-1 for kernel" "$work"/build-logs/*/dkms-kldtest-renamed-dkms.log ||
	fail "renamed fixture: not built under dkms.conf's name and version"
echo "dkms: a dkms.conf with its own version builds"
rm -rf "$work/build-modules" "$work/build-modules.stamp"

# A dkms.conf that builds in /usr/src and moves the module to /var/lib/dkms itself: it gets
# writable copies at those paths, and the shared build root is left as it was.
bt_build "$work" dkms:kldtest-insrc-dkms 2>"$work/err" >/dev/null ||
	{ cat "$work/err"; tail -20 "$work"/build-logs/*/dkms-kldtest-insrc-dkms.log; fail "insrc fixture failed"; }
[ -f "$work/build-modules/$krel/modules/dkms-kldtest-insrc-dkms/updates/dkms/kldtest.ko" ] ||
	fail "insrc fixture: no kldtest.ko"
left=$(find "$(bt_cache)"/build-roots/*/usr/src/kldtest-insrc-1.0 "$(bt_cache)"/build-roots/*/var/lib/dkms \
	-newer "$work/kldtest-insrc-dkms.deb" ! -type d 2>/dev/null)
[ -z "$left" ] || fail "insrc fixture: the build wrote into the shared build root: $left"
echo "dkms: a dkms.conf that builds inside /usr/src builds"
rm -rf "$work/build-modules" "$work/build-modules.stamp"

refused "zfs outside META" "supports Linux 2.6.32 to 4.19" zfs -O zfs.source=kldtest-oldmeta-dkms
refused "dkms exclusive" "BUILD_EXCLUSIVE_KERNEL '^4\\\\.19\\\\.' does not match kernel $krel" \
	dkms:kldtest-exclusive-dkms
refused "dkms without dkms.conf" "carries no dkms.conf" dkms:make
refused "dkms without a package" "name the package" dkms
