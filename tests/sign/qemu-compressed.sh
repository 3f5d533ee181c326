#!/bin/sh
# Compression after signing, judged by a kernel that compresses its own modules: the release's
# kernel (default: stable, whose config has CONFIG_MODULE_COMPRESS_XZ and _DECOMPRESS) comes
# through kldload's own fetch/resolve from the configured mirror; the sign stage signs one of its
# modules for it and writes .ko.xz; the kernel, booted in QEMU (TCG), is handed the compressed
# file with finit_module(MODULE_INIT_COMPRESSED_FILE) as kmod does, so it decompresses it itself
# and then checks the signature:
#   sig_enforce=1: kldload's .ko.xz -> "module with unavailable key" (decompressed, then parsed);
#                  the same .ko.xz with a damaged byte -> a decompression error, not a key error;
#                  Debian's own .ko.xz -> loads (the loader and the kernel's decoder work)
#   no enforcement: kldload's .ko.xz loads.
# usage: qemu-compressed.sh SRC_DIR BUILD_DIR [RELEASE]
set -u
SRC=$1
BUILD=$2
REL=${3:-stable}
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

command -v gcc >/dev/null || kt_skip "no gcc to build the static loader"
work=$(mktemp -d /var/tmp/kldload-sign-xz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
cache=$(kt_cache_dir)/kldload-cache
mkdir -p "$cache"

"$KLDLOAD" --plugin-path "$BUILD/plugins" --plugin debian --release "$REL" --module wireguard \
	--stage fetch..resolve --work-dir "$work/w" --cache-dir "$cache" --output "$work/out" -q \
	>/dev/null || fail "fetch/resolve of $REL failed"
krel=$(sed -n 's/^kernel: //p' w/resolve/kldload.lock)
img=$(awk -v k="linux-image-$krel" '$1 == k { print $7 }' w/resolve/kldload.lock)
[ -n "$img" ] || fail "the lock of $REL has no linux-image-$krel"
mkdir kernel
dpkg-deb -x "$cache/sha256/$(echo "$img" | cut -c1-2)/$img" kernel || fail "cannot unpack $img"
config=kernel/boot/config-$krel
grep -q '^CONFIG_MODULE_COMPRESS_XZ=y' "$config" && grep -q '^CONFIG_MODULE_DECOMPRESS=y' "$config" ||
	kt_skip "$krel neither compresses modules with xz nor decompresses them itself"
kmods=kernel/usr/lib/modules/$krel
[ -d "$kmods" ] || kmods=kernel/lib/modules/$krel
deb_mod=$kmods/kernel/lib/crc8.ko.xz
[ -f "$deb_mod" ] || fail "no $deb_mod"

# build-modules layout by hand: the module bare (decompressed, Debian's signature stripped).
bm=w2/build-modules/$krel
mkdir -p "$bm/modules/crc8/updates/dkms"
cp "$config" "$bm/kernel.config"
xz -dc "$deb_mod" >plain.ko
strip_signature plain.ko "$bm/modules/crc8/updates/dkms/crc8.ko"
"$KLDLOAD" keygen --out keys --subject "/CN=kldload xz test" >/dev/null 2>&1 || fail "keygen"
"$HELPER" stage w2 signed "$work/keys/signing-key.pem" "$work/keys/signing-cert.pem" ||
	fail "the sign stage failed"
ours=signed/$krel/modules/crc8/updates/dkms/crc8.ko.xz
[ -f "$ours" ] || { find signed; fail "the sign stage wrote no .ko.xz for $krel"; }
echo "Debian's module and kldload's, as xz sees them (check, dictionary):"
for f in "$deb_mod" "$ours"; do
	xz --robot -lvv "$f" | awk -v f="$(basename "$(dirname "$f")")/$(basename "$f")" \
		'$1 == "block" { print "    " f ": " $10 ", " $NF }'
done
cp "$ours" broken.ko.xz
python3 -c "
import sys; d = bytearray(open('broken.ko.xz','rb').read()); d[len(d)//2] ^= 0xff
open('broken.ko.xz','wb').write(d)"

gcc -static -O2 -o finit "$SRC/tests/sign/finit.c" || fail "cannot build the static loader"
cat >run.sh <<'RUN'
for m in $(cat /m/order); do
	echo "KT-CASE $m"
	/finit /m/$m.ko.xz 2>&1
	echo "KT-RC $m $?"
done
RUN
boot() { # name cmdline cases...
	name=$1
	cmdline=$2
	shift 2
	echo "$@" | tr ' ' '\n' >order
	kt_initramfs "$name.cpio" run.sh finit=finit order=m/order "$ours=m/kld.ko.xz" \
		broken.ko.xz=m/broken.ko.xz "$deb_mod=m/debian.ko.xz" || fail "initramfs"
	kt_boot "kernel/boot/vmlinuz-$krel" "$name.cpio" "$name.log" "$cmdline" 300 ||
		{ tail -n 30 "$name.log"; fail "$krel did not run the test script"; }
	tr -d '\r' <"$name.log" >"$name.txt"
	echo "--- $krel, $name:"
	sed -n '/^KT-BEGIN/,/^KT-END/p' "$name.txt" | sed 's/^/    /'
}
case_of() { sed -n "/^KT-CASE $2\$/,/^KT-RC $2 /p" "$1.txt"; }
boot enforce module.sig_enforce=1 kld broken debian
boot permissive "" kld

case_of enforce kld | grep -q 'module with unavailable key' ||
	fail "enforce: kldload's .ko.xz was not refused for its key"
case_of enforce kld | grep -q '^KT-RC kld 0$' && fail "enforce: kldload's .ko.xz loaded"
case_of enforce broken | grep -q '^KT-RC broken 0$' && fail "a damaged .ko.xz loaded"
case_of enforce broken | grep -q 'decompression failed' ||
	fail "a damaged .ko.xz: the kernel did not report a decompression failure"
case_of enforce broken | grep -q 'Key was rejected' &&
	fail "a damaged .ko.xz got as far as the signature check"
case_of enforce debian | grep -q '^KT-RC debian 0$' ||
	fail "Debian's own .ko.xz did not load (the test's loader is broken)"
case_of permissive kld | grep -q '^KT-RC kld 0$' ||
	fail "without enforcement kldload's .ko.xz did not load"
echo "PASS: $krel decompressed kldload's .ko.xz itself and then judged its signature"
