#!/bin/sh
# The full OpenZFS build from the release's zfs-dkms, for the release's current kernel, in the
# build root (the target's own compiler: gcc-14 for trixie on a bookworm host), then every module
# its dkms.conf declares loads into that kernel booted in QEMU (TCG), with the in-kernel modules
# they depend on taken from the kernel package of the same lock.
# usage: zfs.sh SRC_DIR BUILD_DIR RELEASE     (RELEASE: oldstable, stable, bookworm, trixie...)
set -u
SRC=$1
BUILD=$2
REL=$3
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"

[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
work=$(mktemp -d /var/tmp/kldload-zfs-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cache=$(bt_cache)
k() {
	"$KLDLOAD" --plugin-path "$PLUGINS" --plugin debian --release "$REL" --module zfs \
		--work-dir "$work" --cache-dir "$cache" --output "$work/out" "$@"
}

k --stage fetch..resolve -q || fail "resolve for $REL failed"
krel=$(bt_lock_kernel "$work")
bt_forget_results
start=$(date +%s)
k --stage build-modules -v 2>"$work/build.err" || { tail -n 40 "$work/build.err"; fail "zfs build failed"; }
echo "zfs for $REL ($krel) built in $(($(date +%s) - start)) s"
mods=$work/build-modules/$krel/modules/zfs
n=0
for ko in $(find "$mods" -name '*.ko' | sort); do
	v=$(/sbin/modinfo -F vermagic "$ko")
	case "$v" in "$krel "*) ;; *) fail "$ko: vermagic '$v' is not $krel" ;; esac
	n=$((n + 1))
done
echo "$n modules, vermagic $krel"
[ "$n" -ge 2 ] || fail "too few modules: $n"

# The kernel package of the same lock, from the cache.
img=$(awk -v k="linux-image-$krel" '$1 == k { print $7 }' "$work/resolve/kldload.lock")
[ -n "$img" ] || fail "the lock has no linux-image-$krel"
mkdir -p "$work/kernel"
dpkg-deb -x "$cache/sha256/$(echo "$img" | cut -c1-2)/$img" "$work/kernel" || fail "cannot unpack the kernel"
vmlinuz=$work/kernel/boot/vmlinuz-$krel
kmods=$work/kernel/lib/modules/$krel
[ -d "$kmods" ] || kmods=$work/kernel/usr/lib/modules/$krel

# Load order: every module after what it depends on (modinfo's depends), in-kernel ones from
# the kernel package, decompressed.
mkdir -p "$work/m"
: >"$work/order"
find_mod() {
	f=$(find "$mods" -name "$1.ko" | head -n1)
	[ -n "$f" ] || f=$(find "$kmods" -name "$1.ko*" | head -n1)
	[ -n "$f" ] || f=$(find "$kmods" -name "$(echo "$1" | tr _ -).ko*" | head -n1)
	echo "$f"
}
add_mod() {
	grep -qx "$1" "$work/order" && return 0
	f=$(find_mod "$1")
	[ -n "$f" ] || fail "module $1 not found"
	for d in $(/sbin/modinfo -F depends "$f" | tr , ' '); do add_mod "$d"; done
	f=$(find_mod "$1") # sh has no local variables: the recursion changed $f
	case "$f" in
	*.xz) xz -dc "$f" >"$work/m/$1.ko" ;;
	*.zst) zstd -dcq "$f" >"$work/m/$1.ko" ;;
	*) cp "$f" "$work/m/$1.ko" ;;
	esac
	echo "$1" >>"$work/order"
}
for ko in $(find "$mods" -name '*.ko' | sort); do add_mod "$(basename "$ko" .ko)"; done
{
	for m in $(cat "$work/order"); do
		echo "insmod /m/$m.ko; echo \"KT-RC $m \$?\""
	done
	echo "cat /proc/modules"
} >"$work/run.sh"
specs=
for m in $(cat "$work/order"); do specs="$specs $work/m/$m.ko=m/$m.ko"; done
# shellcheck disable=SC2086
kt_initramfs "$work/initrd.cpio" "$work/run.sh" $specs || fail "cannot make the initramfs"
KT_MEM=1024 kt_boot "$vmlinuz" "$work/initrd.cpio" "$work/console.log" "" 600 ||
	{ tail -n 40 "$work/console.log"; fail "the kernel did not run the test script"; }
tr -d '\r' <"$work/console.log" >"$work/console.txt"
grep -E '^KT-RC|ZFS:' "$work/console.txt"
for ko in $(find "$mods" -name '*.ko' | sort); do
	m=$(basename "$ko" .ko)
	grep -q "^KT-RC $m 0" "$work/console.txt" || fail "$m did not load into $krel"
	grep -q "^$m " "$work/console.txt" || fail "$m is not in /proc/modules"
done
echo "all $n zfs modules loaded into $krel under QEMU"
