#!/bin/sh
# online.sh RELEASE — fetch and resolve RELEASE (stable, oldstable) from the configured mirror
# with --module zfs,wireguard, then check with the field's tools that the locked set is real:
# every package is in the cache with its locked size and SHA-256, dpkg-deb reads it, and apt
# accepts the build root and the image set from a repository of exactly the locked packages.
# Env: KLDLOAD, PLUGIN_DIR; KLDLOAD_TEST_CACHE (default: a cache kept under /tmp between runs).
set -eu
release=$1
here=$(cd "$(dirname "$0")" && pwd)
cache=${KLDLOAD_TEST_CACHE:-/tmp/kldload-online-cache}
t=$(mktemp -d /tmp/kldload-online-XXXXXX)
trap 'rm -rf "$t"' EXIT

modules="--module zfs,wireguard"
if ! "$KLDLOAD" plugins --plugin-path "$PLUGIN_DIR" 2>/dev/null | grep -q '^zfs '; then
	# recipes not built: give their needs directly to the driver
	modules="-O debian.needs=source:zfs:zfs-dkms,runtime:zfs:zfsutils-linux,runtime:zfs:zfs-initramfs,runtime:wireguard:wireguard-tools"
fi
verifier=sqv
[ "$release" = oldstable ] && verifier=gpgv # both verifiers are exercised
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$KLDLOAD" --plugin-path "$PLUGIN_DIR" --work-dir "$t/work" --cache-dir "$cache" -o "$t/out" \
	--stage fetch..resolve -r "$release" --verifier "$verifier" $modules
end=$(date +%s.%N)
lock=$t/out/kldload.lock
kernel=$(sed -n 's/^kernel: //p' "$lock")
echo "online $release: $(sed -n 's/^release: //p' "$lock"), kernel $kernel," \
	"$(awk 'NF == 8' "$lock" | wc -l) packages, $(echo "$end - $start" | bc) s"

fail() { echo "online $release: $*" >&2; exit 1; }
for tag in kernel "headers:$kernel" "compiler:$kernel" source:zfs runtime:zfs runtime:wireguard; do
	awk -v t="$tag" 'NF == 8 && index("," $8 ",", "," t ",")' "$lock" | grep -q . ||
		fail "no package tagged $tag"
done
awk 'NF == 8 { print $1, $6, $7 }' "$lock" | while read -r name size sha; do
	f=$cache/sha256/$(echo "$sha" | cut -c1-2)/$sha
	[ "$(stat -c %s "$f")" = "$size" ] || fail "$name: size"
	echo "$sha  $f" | sha256sum -c --quiet - || fail "$name: hash"
	[ "$(dpkg-deb --field "$f" Package)" = "$name" ] || fail "$name: dpkg-deb"
done
sh "$here/apt-closure-check.sh" "$lock" "$cache" "build:$kernel"
# grub-pc and the UEFI chain conflict: the image holds both, apt is asked for one at a time
sh "$here/apt-closure-check.sh" "$lock" "$cache" image '^(grub-efi|shim)'
