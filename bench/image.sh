#!/bin/sh
# Image benchmarks: end-to-end cold build (fresh work directory and cache), warm rebuild (nothing
# changed), and ISO writing by kldload against `xorriso -as mkisofs` of the same tree.
# usage: bench/image.sh [BUILD_DIR] [RELEASE]    (as root, with the configured mirror)
set -eu
bld=$(cd "${1:-build}" && pwd) release=${2:-oldstable}
t=$(mktemp -d /tmp/kldload-bench-XXXXXX)
trap 'rm -rf "$t"' EXIT
k() {
	"$bld/kldload" --plugin-path "$bld/plugins" --release "$release" --module zfs,wireguard \
		--work-dir "$t/work" --output "$t/out" --cache-dir "$t/cache" "$@"
}
now() { date +%s.%N; }
s=$(now); k >/dev/null 2>"$t/cold.log"; cold=$(echo "$(now) - $s" | bc)
s=$(now); k >/dev/null 2>"$t/warm.log"; warm=$(echo "$(now) - $s" | bc)
s=$(now); k --stage boot-config --force >/dev/null 2>&1; bc_time=$(echo "$(now) - $s" | bc)

# ISO writing alone: kldload's writer (hard-link farm, md5sum.txt, xorriso) against plain
# `xorriso -as mkisofs` of the same merged tree, both hybrid with the same boot entries
tree=$t/tree
cp -al "$t/work/assemble/cd" "$tree"
cp -a "$t/work/boot-config/overlay/." "$tree/"
mbr=$t/work/assemble/isohdpfx.bin
kw=$("$bld/tests/image/iso-tool" "$t/kldload.iso" "$mbr" "$t/work/assemble/cd" \
	"$t/work/boot-config/overlay")
s=$(now)
xorriso -as mkisofs -quiet -r -J -joliet-long -V bench -o "$t/plain.iso" \
	-isohybrid-mbr "$mbr" -b isolinux/isolinux.bin \
	-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table -eltorito-alt-boot \
	-e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat \
	-append_partition 2 0xef "$tree/boot/grub/efi.img" "$tree" 2>/dev/null
plain=$(echo "$(now) - $s" | bc)
size=$(du -m "$t/plain.iso" | cut -f1)
echo "release $release, ISO $size MB"
printf 'cold build %.1f s, warm rebuild %.1f s (ratio %.0fx)\n' "$cold" "$warm" \
	"$(echo "$cold / $warm" | bc -l)"
printf 'boot-config stage (initrds, ESP, ISO, output hash and copy) %.1f s\n' "$bc_time"
printf 'ISO writing: kldload %.1f s, xorriso -as mkisofs %.1f s (ratio %.2f)\n' "$kw" "$plain" \
	"$(echo "$kw / $plain" | bc -l)"
