#!/bin/sh
# The offline repository of the image: see apt-offline.sh.
set -eu
. "$(dirname "$0")/common.sh"
need_build
codename=$(sed -n 's/^codename //p' "$work/assemble/info")
key=${XDG_DATA_HOME:-$HOME/.local/share}/kldload/repo-key/public.gpg
pkgs=$(for d in "$work"/assemble/debs/*.deb; do dpkg-deb -f "$d" Package; done)
# the key on the medium is the one that signed it
cmp -s "$key" "$work/assemble/cd/kldload/repo-key.gpg"
# the installer's udebs that assemble gathered are on the medium, indexed, each as its hash says
n=$(sed -n 's/^udebs //p' "$work/assemble/info")
if [ "${n:-0}" -gt 0 ]; then
	di=$work/assemble/cd/dists/$codename/main/debian-installer/binary-amd64/Packages
	[ "$(grep -c '^Package:' "$di")" -eq "$n" ] || { echo "FAIL: $di lists not $n udebs" >&2; exit 1; }
	grep -q ' main/debian-installer/binary-amd64/Packages$' "$work/assemble/cd/dists/$codename/Release"
	sums=$(awk '/^Filename:/ {f = $2} /^SHA256:/ {print $2 "  " f}' "$di")
	(cd "$work/assemble/cd" && echo "$sums" | sha256sum --quiet -c -)
	echo "$n installer udebs on the medium, indexed and matching their hashes"
fi
sh "$src/tests/image/apt-offline.sh" "$work/assemble/cd" "$key" "$codename" $pkgs
