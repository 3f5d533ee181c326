#!/bin/sh
# Two builds of the image from the same lock and the same SOURCE_DATE_EPOCH are byte-identical.
set -eu
. "$(dirname "$0")/common.sh"
need_build
export SOURCE_DATE_EPOCH=1700000000
kldload --stage assemble..boot-config --force 2>/dev/null >/dev/null
a=$(sha256sum "$(iso_of)" | cut -d' ' -f1)
cp "$(iso_of)" "$out/first.iso.tmp"
sleep 1
kldload --stage assemble..boot-config --force 2>/dev/null >/dev/null
b=$(sha256sum "$(iso_of)" | cut -d' ' -f1)
cmp "$out/first.iso.tmp" "$(iso_of)"
rm -f "$out/first.iso.tmp"
echo "two builds: $a $b"
unset SOURCE_DATE_EPOCH
kldload --stage assemble..boot-config --force 2>/dev/null >/dev/null
