#!/bin/sh
# The private key that signed the modules is nowhere in what the build hands out: the ISO's
# whole contents (extracted), its module packages opened, its initrds decompressed, and the
# output directory. A copy of the key planted in a scratch tree is found, so the search works.
set -eu
. "$(dirname "$0")/common.sh"
need_build
key=${XDG_DATA_HOME:-$HOME/.local/share}/kldload/mok/signing-key.pem
[ -f "$key" ] || { echo "no signing key at $key" >&2; exit 1; }
t=$(mktemp -d /var/tmp/kldload-keysearch.XXXXXX)
trap 'chmod -R u+w "$t"; rm -rf "$t"' EXIT
xorriso -osirrox on -indev "$(iso_of)" -extract / "$t/iso" >/dev/null 2>&1
python3 "$src/tests/image/no-private-key.py" "$key" "$t/iso" "$out"
mkdir -p "$t/planted"
gzip -c "$key" >"$t/planted/initrd.gz"
if python3 "$src/tests/image/no-private-key.py" "$key" "$t/planted" >"$t/planted.log"; then
	echo "FAIL: the search does not find a key planted in a gzip stream" >&2
	exit 1
fi
echo "control: $(head -n1 "$t/planted.log")"
