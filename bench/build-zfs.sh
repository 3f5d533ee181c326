#!/bin/bash
# Benchmark: the OpenZFS build of the release's zfs-dkms for its current kernel, by kldload
# (sandboxed build root) and by `dkms build` of the same source for the same kernel, run in a
# chroot of a writable copy of the same build root (the release's own dkms, compiler and headers),
# then kldload's warm rebuild. Prints the times and the ratios. Needs root (chroot) and a few GB
# under $TMPDIR. Wall-clock and CPU (user+sys of every process) seconds are both printed: on a
# shared machine the CPU figures compare better. usage: bench/build-zfs.sh BUILD_DIR [RELEASE]
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
TIMEFORMAT='%R %U %S'
# timed VAR CMD...: runs CMD, sets VAR to its wall seconds and VAR_cpu to user+sys seconds.
timed() {
	local var=$1 t
	shift
	t=$({ time "$@" >/dev/null 2>"$b/last.err"; } 2>&1) || { cat "$b/last.err"; exit 1; }
	read -r w u s <<<"$t"
	printf -v "$var" '%s' "$w"
	printf -v "${var}_cpu" '%s' "$(echo "$u + $s" | bc)"
}
k() {
	"$KLDLOAD" --plugin-path "$BUILD/plugins" --plugin debian --release "$REL" --module zfs \
		--work-dir "$b/work" --cache-dir "$cache" --output "$b/out" -j "$(nproc)" "$@"
}

k --stage fetch..resolve -q
krel=$(sed -n 's/^kernel: //p' "$b/work/resolve/kldload.lock")
echo "release $REL, kernel $krel, $(nproc) CPUs"

timed cold k --stage build-modules -q
root=$(ls -d "$cache"/build-roots/*/ | head -n1)
n=$(find "$b/work/build-modules/$krel/modules/zfs" -name '*.ko' | wc -l)
echo "kldload cold (lay out the build root + build): ${cold}s wall, ${cold_cpu}s CPU, $n modules"

timed warm k --stage build-modules -q --force
echo "kldload warm (same inputs, from the cache):    ${warm}s wall, ${warm_cpu}s CPU"

# dkms, in a chroot of a writable copy of the same root.
cp -a "$root" "$b/chroot"
src=$(ls -d "$b/chroot/usr/src/zfs-"*/ | head -n1)
ver=$(basename "$src" | sed 's/^zfs-//')
mount -t proc proc "$b/chroot/proc"
chroot "$b/chroot" dkms add "zfs/$ver" >/dev/null
timed dkms chroot "$b/chroot" dkms build "zfs/$ver" -k "$krel"
dn=$(find "$b/chroot/var/lib/dkms/zfs/$ver/$krel" -name '*.ko*' | wc -l)
echo "dkms build (chroot, same root):               ${dkms}s wall, ${dkms_cpu}s CPU, $dn modules"

echo "ratios (wall): kldload cold / dkms = $(echo "scale=2; $cold / $dkms" | bc)," \
	"kldload warm / dkms = $(echo "scale=4; $warm / $dkms" | bc)"
echo "ratios (CPU):  kldload cold / dkms = $(echo "scale=2; $cold_cpu / $dkms_cpu" | bc)," \
	"kldload warm / dkms = $(echo "scale=4; $warm_cpu / $dkms_cpu" | bc)"
