#!/bin/sh
# The installer's environment can load the built modules: the ISO's installer kernel booted
# (QEMU, TCG) with Debian's initrd plus kldload's appended one, a shell as init on the serial
# console, then `modprobe zfs` there, its dependencies found through the regenerated index.
set -eu
. "$(dirname "$0")/common.sh"
need_build
iso=$(iso_of)
t=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$t"' EXIT
xorriso -osirrox on -indev "$iso" -extract /install.amd/vmlinuz "$t/linux" \
	-extract /install.amd/initrd.gz "$t/a.gz" -extract /install.amd/kldload.gz "$t/b.gz" \
	>/dev/null 2>&1
cat "$t/a.gz" "$t/b.gz" >"$t/initrd.gz"
mkfifo "$t/in"
qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -nic none -monitor none \
	-kernel "$t/linux" -initrd "$t/initrd.gz" -append "console=ttyS0 init=/bin/sh" \
	-serial stdio <"$t/in" >"$t/out" 2>&1 &
pid=$!
exec 3>"$t/in"
start=$(date +%s)
until grep -aq "can't access tty\|job control" "$t/out"; do
	[ $(($(date +%s) - start)) -lt 300 ] && kill -0 "$pid" 2>/dev/null || {
		echo "no shell on the installer's console:" >&2; tail -c 1500 "$t/out" >&2; exit 1; }
	sleep 1
done
echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; modprobe zfs && grep "^zfs " /proc/modules && echo KLD-MODULES-LOADED; echo KLD-DONE' >&3
until grep -aq '^KLD-DONE' "$t/out"; do
	[ $(($(date +%s) - start)) -lt 420 ] || break
	sleep 1
done
exec 3>&-
if grep -aq '^KLD-MODULES-LOADED' "$t/out"; then
	echo "installer environment: $(grep -a '^zfs ' "$t/out" | head -1) after $(($(date +%s) - start)) s"
	exit 0
fi
echo "modprobe zfs failed in the installer's environment:" >&2
tail -c 2000 "$t/out" >&2
exit 1
