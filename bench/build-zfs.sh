#!/bin/sh
# Benchmark: the OpenZFS build of the release's zfs-dkms for its current kernel, by kldload
# (sandboxed build root) and by `dkms build` of the same source for the same kernel, run in a
# chroot of a writable copy of the same build root (the release's own dkms, compiler and headers),
# then kldload's warm rebuild. Prints the times and the ratios. Needs root (chroot) and a few GB
# under $TMPDIR. usage: bench/build-zfs.sh BUILD_DIR [RELEASE]   (default: oldstable)
set -eu
BUILD=$(cd "$1" && pwd)
REL=${2:-oldstable}
SRC=$(cd "$(dirname "$0")/.." && pwd)
KLDLOAD=$BUILD/kldload
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (dkms runs in a chroot)" >&2; exit 1; }
b=$(mktemp -d "${TMPDIR:-/var/tmp}/kldload-bench.XXXXXX")
trap 'umount -R "$b/chroot/proc" 2>/dev/null || true; rm -rf "$b"' EXIT
cache=$b/cache
now() { date +%s.%N; }
k() {
	"$KLDLOAD" --plugin-path "$BUILD/plugins" --plugin debian --release "$REL" --module zfs \
		--work-dir "$b/work" --cache-dir "$cache" --output "$b/out" -j "$(nproc)" "$@"
}

k --stage fetch..resolve -q
krel=$(sed -n 's/^kernel: //p' "$b/work/resolve/kldload.lock")
echo "release $REL, kernel $krel, $(nproc) CPUs"

t0=$(now)
k --stage build-modules -q
t1=$(now)
cold=$(echo "$t1 - $t0" | bc)
root=$(ls -d "$cache"/build-roots/*/ | head -n1)
n=$(find "$b/work/build-modules/$krel/modules/zfs" -name '*.ko' | wc -l)
echo "kldload cold (lay out the build root + build): ${cold}s, $n modules"

t0=$(now)
k --stage build-modules -q --force
warm=$(echo "$(now) - $t0" | bc)
echo "kldload warm (same inputs, from the cache):    ${warm}s"

# dkms, in a chroot of a writable copy of the same root.
cp -a "$root" "$b/chroot"
src=$(ls -d "$b/chroot/usr/src/zfs-"*/ | head -n1)
ver=$(basename "$src" | sed 's/^zfs-//')
mount -t proc proc "$b/chroot/proc"
t0=$(now)
chroot "$b/chroot" /bin/sh -c "dkms add zfs/$ver >/dev/null && dkms build zfs/$ver -k $krel" \
	>"$b/dkms.log" 2>&1 || { tail -n 30 "$b/dkms.log"; exit 1; }
dkms=$(echo "$(now) - $t0" | bc)
dn=$(find "$b/chroot/var/lib/dkms/zfs/$ver/$krel" -name '*.ko*' | wc -l)
echo "dkms build (chroot, same root):               ${dkms}s, $dn modules"

echo "ratios: kldload cold / dkms = $(echo "scale=2; $cold / $dkms" | bc)," \
	"kldload warm / dkms = $(echo "scale=4; $warm / $dkms" | bc)"
