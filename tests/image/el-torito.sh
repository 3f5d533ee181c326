#!/bin/sh
# The ISO has a BIOS and a UEFI El Torito entry, an MBR and a GPT (isohybrid, appended ESP), the
# vendor's signed shim and GRUB in its ESP, md5sum.txt, .disk/info and the menu entries.
set -eu
. "$(dirname "$0")/common.sh"
need_build
iso=$(iso_of)
r=$(xorriso -indev "$iso" -report_el_torito plain -report_system_area plain 2>/dev/null)
echo "$r" | grep -E 'El Torito boot img|System area summary|GPT partition path|MBR partition  '
echo "$r" | grep -q 'El Torito boot img :   1  BIOS  y   none'
echo "$r" | grep -q 'El Torito boot img :   2  UEFI  y   none'
echo "$r" | grep -q 'System area summary: MBR isohybrid .*GPT'
echo "$r" | grep -q 'MBR partition      :   2   0x00  0xef'
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
xorriso -osirrox on -indev "$iso" -extract /isolinux/isolinux.cfg "$t/iso.cfg" \
	-extract /boot/grub/grub.cfg "$t/grub.cfg" -extract /boot/grub/efi.img "$t/efi.img" \
	-extract /md5sum.txt "$t/md5" -extract /.disk/info "$t/info" >/dev/null 2>&1
for e in install graphical expert rescue automated serial; do
	grep -q "^LABEL $e$" "$t/iso.cfg"
	grep -q -- "--id $e " "$t/grub.cfg"
done
grep -q 'console=ttyS0' "$t/iso.cfg"
# nouveau is blacklisted only in an image with NVIDIA's modules (tests/build/nvidia.sh)
if grep -q nouveau "$t/iso.cfg" "$t/grub.cfg"; then
	echo "FAIL: nouveau is blacklisted in an image without NVIDIA's modules" >&2
	exit 1
fi
MTOOLS_SKIP_CHECK=1 mcopy -i "$t/efi.img" ::/EFI/boot/bootx64.efi "$t/shim.efi"
MTOOLS_SKIP_CHECK=1 mcopy -i "$t/efi.img" ::/EFI/boot/grubx64.efi "$t/grub.efi"
# Microsoft's UEFI CA signed shim; Debian's key signed GRUB (PE Authenticode certificates)
strings "$t/shim.efi" | grep -q 'Microsoft Corporation UEFI CA'
strings "$t/grub.efi" | grep -q 'Debian Secure Boot'
grep -q ' ./install.amd/vmlinuz$' "$t/md5"
grep -q ' ./pool/main/' "$t/md5"
cat "$t/info"; echo
