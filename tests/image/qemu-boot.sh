#!/bin/sh
# QEMU (TCG) boots the ISO to the installer's first screen ("Select a language") on the serial
# console: MODE bios-cd (SeaBIOS, as a CD), bios-disk (SeaBIOS, the ISO as a hard disk), uefi-cd
# and uefi-disk (OVMF: OVMF_CODE_4M.fd + a writable copy of OVMF_VARS_4M.fd), uefi-sb-cd (OVMF
# with Secure Boot on and Microsoft's keys enrolled: shim, GRUB and the kernel must verify).
set -eu
mode=$4
. "$(dirname "$0")/common.sh"
need_build
iso=$(iso_of)
t=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$t"' EXIT
set -- -accel tcg -m 1024 -smp 2 -nographic -nic none -serial "file:$t/serial" -monitor none
case $mode in
bios-cd) set -- "$@" -cdrom "$iso" -boot d ;;
bios-disk) set -- "$@" -drive "file=$iso,format=raw,if=virtio,snapshot=on" ;;
uefi-cd | uefi-disk)
	cp /usr/share/OVMF/OVMF_VARS_4M.fd "$t/vars.fd"
	set -- "$@" -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
		-drive "if=pflash,format=raw,file=$t/vars.fd"
	if [ "$mode" = uefi-cd ]; then set -- "$@" -cdrom "$iso"
	else set -- "$@" -drive "file=$iso,format=raw,if=virtio,snapshot=on"; fi ;;
uefi-sb-cd)
	cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$t/vars.fd"
	set -- "$@" -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
		-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd \
		-drive "if=pflash,format=raw,unit=1,file=$t/vars.fd" -cdrom "$iso" ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
start=$(date +%s)
qemu-system-x86_64 "$@" >"$t/qemu.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	if grep -aq 'Select a language' "$t/serial" 2>/dev/null; then
		if [ "$mode" = uefi-sb-cd ] && ! grep -aq 'Secure boot enabled' "$t/serial"; then
			echo "$mode: the kernel did not run with Secure Boot on" >&2
			exit 1
		fi
		echo "$mode: the installer's first screen after $(($(date +%s) - start)) s"
		exit 0
	fi
	[ $(($(date +%s) - start)) -lt 540 ] || break
	sleep 1
done
echo "$mode: no installer screen; serial console:" >&2
tail -c 2000 "$t/serial" >&2
exit 1
