#!/bin/sh
# bench/fetch.sh [RELEASE] — download and verification of a locked package set: kldload (libcurl
# multi, content-addressed cache, SHA-256 of every file) against `apt-get download` of the same
# name=version list into an empty directory; cold (empty cache/directory) and warm (again).
# Env: KLDLOAD (default build/kldload), PLUGIN_DIR, MIRROR (default: the host's APT sources).
set -eu
. "$(dirname "$0")/common.sh"
release=${1:-stable}
t=$(mktemp -d /tmp/kldload-bench-XXXXXX)
trap 'rm -rf "$t"' EXIT

kld --work-dir "$t/work" --cache-dir "$t/unused" -o "$t/out" --stage fetch..resolve -r "$release" \
	--module zfs,wireguard -O debian.download=no -q >/dev/null
lock=$t/work/resolve/kldload.lock
n=$(awk 'NF == 8' "$lock" | wc -l)
bytes=$(awk 'NF == 8 {s += $6} END {print s}' "$lock")
codename=$(sed -n 's/^release: \([^ ]*\).*/\1/p' "$lock")
arch=$(sed -n 's/^arch: //p' "$lock")

run_kld() {
	kld --work-dir "$t/work" --cache-dir "$t/cache" -o "$t/out" --stage resolve --force \
		--lock "$lock" -q >/dev/null
}
a=$(now); run_kld; b=$(now); kld_cold=$(elapsed "$a" "$b")
a=$(now); run_kld; b=$(now); kld_warm=$(elapsed "$a" "$b")

apt_setup "$t/apt" "$codename" "$arch"
mkdir "$t/dl"
awk 'NF == 8 {print $1 "=" $2}' "$lock" >"$t/names"
run_apt() {
	# shellcheck disable=SC2046,SC2086
	(cd "$t/dl" && apt-get $APT_OPTS -qq download $(cat "$t/names") >/dev/null)
}
a=$(now); run_apt; b=$(now); apt_cold=$(elapsed "$a" "$b")
a=$(now); run_apt; b=$(now); apt_warm=$(elapsed "$a" "$b")
[ "$(ls "$t/dl" | wc -l)" -eq "$n" ] || echo "warning: apt-get download left $(ls "$t/dl" | wc -l) of $n files" >&2

echo "fetch bench: $release ($codename), $n packages, $((bytes / 1048576)) MiB"
echo "  cold: kldload ${kld_cold}s  apt-get download ${apt_cold}s  ratio apt/kldload $(ratio "$apt_cold" "$kld_cold")"
echo "  warm: kldload ${kld_warm}s  apt-get download ${apt_warm}s  ratio apt/kldload $(ratio "$apt_warm" "$kld_warm")"
