#!/bin/sh
# bench/resolve.sh [RELEASE] — resolution of the same request: kldload's resolve stage (libsolv:
# loading the verified indexes, the image, UEFI and build-root solves, writing the lock; no
# download) against `apt-get install --simulate` of the same roots from an empty dpkg status
# (apt's binary cache built beforehand; the cold figure includes building it).
# Env: KLDLOAD (default build/kldload), PLUGIN_DIR, MIRROR (default: the host's APT sources).
set -eu
. "$(dirname "$0")/common.sh"
release=${1:-stable}
t=$(mktemp -d /tmp/kldload-bench-XXXXXX)
trap 'rm -rf "$t"' EXIT

kld --work-dir "$t/work" --cache-dir "$t/unused" -o "$t/out" --stage fetch..resolve -r "$release" \
	--module zfs,wireguard -O debian.download=no -q >/dev/null
lock=$t/work/resolve/kldload.lock
codename=$(sed -n 's/^release: \([^ ]*\).*/\1/p' "$lock")
arch=$(sed -n 's/^arch: //p' "$lock")
runs=5
a=$(now)
for _ in $(seq $runs); do
	kld --work-dir "$t/work" --cache-dir "$t/unused" -o "$t/out" --stage resolve --force \
		--module zfs,wireguard -O debian.download=no -q >/dev/null
done
b=$(now)
kld_t=$(echo "scale=3; ($b - $a) / $runs" | bc)

# apt gets the same roots, minus weak ones kldload left out (apt would refuse them)
req=$t/work/resolve/request
awk 'NF == 8 {print $1}' "$lock" | sort -u >"$t/locked"
roots() { awk -v p="$1" '$1 == p {print $3}' "$req" | sort -u | comm -12 - "$t/locked"; }
roots image >"$t/image"
roots image-efi >"$t/efi"
roots "$(awk '$1 ~ /^build:/ {print $1; exit}' "$req")" >"$t/build"

apt_setup "$t/apt" "$codename" "$arch"
sim() {
	# shellcheck disable=SC2046,SC2086
	apt-get $APT_OPTS -qq -s install "$@" >/dev/null
}
apt_all() {
	sim $(cat "$t/image") && sim --no-install-recommends $(cat "$t/efi") &&
		sim --no-install-recommends $(cat "$t/build")
}
rm -f "$t/apt/cache/"*.bin
a=$(now); apt_all; b=$(now); apt_cold=$(elapsed "$a" "$b")
a=$(now)
for _ in $(seq $runs); do apt_all; done
b=$(now)
apt_t=$(echo "scale=3; ($b - $a) / $runs" | bc)

echo "resolve bench: $release ($codename), $(wc -l <"$t/image") + $(wc -l <"$t/efi") + $(wc -l <"$t/build") roots, $(awk 'NF == 8' "$lock" | wc -l) packages locked"
echo "  kldload resolve stage ${kld_t}s (mean of $runs)   apt-get -s ${apt_t}s (mean of $runs, cache built)  ratio apt/kldload $(ratio "$apt_t" "$kld_t")"
echo "  apt-get -s with its cache built from the indexes first: ${apt_cold}s  ratio apt/kldload $(ratio "$apt_cold" "$kld_t")"
