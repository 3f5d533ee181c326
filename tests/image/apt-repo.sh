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
sh "$src/tests/image/apt-offline.sh" "$work/assemble/cd" "$key" "$codename" $pkgs
