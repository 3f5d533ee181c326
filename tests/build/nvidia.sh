#!/bin/sh
# The nvidia recipe end to end on this machine's Debian release (issue 7), from the mirror:
#   - NVIDIA's modules build from the release's nvidia-kernel-dkms (non-free; its build links
#     NVIDIA's binary objects), have the kernel's vermagic, and are signed;
#   - the target kernel, booted in QEMU, loads them: with no GPU in the machine, NVIDIA's own
#     init runs and says "No NVIDIA GPU found" (the loader resolved every symbol first);
#   - the image carries nouveau's blacklist on the installer's and the installed system's
#     command line, and its nvidia-modules package stands in for nvidia-kernel-dkms: apt installs
#     nvidia-driver from the image's repository with it and without DKMS;
#   - with early_kms, the installed system's initramfs holds the modules: a root made from the
#     image's repository alone (mmdebstrap) gets them in /boot/initrd.img-<release>;
#   - the driver's kernel rules: a PREEMPT_RT kernel is refused with the rule's words;
#   - flavours: an unknown one is refused, tesla-<branch> picks that branch's packages.
# usage: nvidia.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"

[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
work=$(mktemp -d /var/tmp/kldload-nvidia-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
bt_own_home "$work"
rel=$(bt_release)
nv() {
	w=$1
	shift
	"$KLDLOAD" --plugin-path "$PLUGINS" --plugin debian --release "$rel" --work-dir "$w" \
		--output "$w/out" --cache-dir "$(bt_cache)" -O debian.boot_default=serial \
		-O nvidia.early_kms=1 "$@"
}

# 1. Build and sign, cold.
bt_forget_results
start=$(date +%s)
nv "$work/w" --module nvidia --stage fetch..sign 2>"$work/build.err" >/dev/null ||
	{ tail -30 "$work/build.err"; fail "kldload --module nvidia failed"; }
echo "nvidia: fetch..sign in $(($(date +%s) - start)) s"
krel=$(bt_lock_kernel "$work/w")
grep -q "[ ,]source:nvidia" "$work/w/resolve/kldload.lock" &&
	grep -q "^nvidia-kernel-dkms .*source:nvidia" "$work/w/resolve/kldload.lock" ||
	fail "the lock does not take nvidia-kernel-dkms as the source"
grep -q "^nvidia-driver .*runtime:nvidia" "$work/w/resolve/kldload.lock" ||
	fail "the lock does not carry nvidia-driver as runtime package"
mods=$work/w/sign/$krel/modules/nvidia/updates/dkms
for m in nvidia-current nvidia-current-modeset nvidia-current-drm nvidia-current-uvm; do
	ko=$mods/$m.ko
	[ -f "$ko" ] || fail "no $m.ko in $mods: $(ls "$mods")"
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$krel" ] || fail "$m.ko: vermagic"
	[ -n "$(modinfo -F signer "$ko")" ] || fail "$m.ko is not signed"
done
[ "$(modinfo -F license "$mods/nvidia-current.ko")" = NVIDIA ] ||
	fail "nvidia-current.ko is not NVIDIA's proprietary module"
echo "nvidia: $(ls "$mods" | tr '\n' ' ')for $krel, signed"

# 2. The kernel's module loader: drm (from the kernel), then nvidia.
tree=$(kt_kernel_tree "$krel") || kt_skip "no linux-image-$krel-unsigned on the mirror"
drm=$(find "$tree/lib/modules/$krel" -name 'drm.ko*' | head -n 1)
printf 'insmod /drm.ko\ninsmod /nvidia.ko\necho "KT-RC $?"\n' >"$work/run.sh"
kt_initramfs "$work/initrd.cpio" "$work/run.sh" "$mods/nvidia-current.ko=nvidia.ko" "$drm=drm.ko" ||
	fail "cannot make the initramfs"
KT_MEM=1024 kt_boot "$tree/boot/vmlinuz-$krel" "$work/initrd.cpio" "$work/console.log" "" 300 ||
	{ tail -n 30 "$work/console.log"; fail "the kernel did not run the test script"; }
tr -d '\r' <"$work/console.log" | grep -E 'NVRM|KT-RC|Unknown symbol' | head -n 4
tr -d '\r' <"$work/console.log" | grep -q "Unknown symbol" && fail "nvidia.ko has unresolved symbols"
tr -d '\r' <"$work/console.log" | grep -q "NVRM: No NVIDIA GPU found" ||
	fail "NVIDIA's init did not run in $krel"

# 3. The image: boot configuration, the module package, apt.
nv "$work/w" --module nvidia 2>"$work/image.err" >"$work/results" ||
	{ tail -30 "$work/image.err"; fail "the nvidia image failed"; }
iso=$(sed -n 's/^image: //p' "$work/results")
xorriso -osirrox on -indev "$iso" -extract /isolinux/isolinux.cfg "$work/iso.cfg" \
	-extract /boot/grub/grub.cfg "$work/grub.cfg" -extract /kldload/preseed.cfg "$work/preseed.cfg" \
	>/dev/null 2>&1 || fail "cannot read the ISO's boot configuration"
grep -q "^LABEL install$" "$work/iso.cfg" || fail "no install entry in isolinux.cfg"
for f in iso.cfg grub.cfg; do
	n=$(grep -c 'modprobe.blacklist=nouveau' "$work/$f")
	[ "$n" -ge 5 ] || fail "nouveau is blacklisted in $n entries of $f"
done
grep -q '^d-i debian-installer/add-kernel-opts string .*modprobe.blacklist=nouveau nvidia-drm.modeset=1' \
	"$work/preseed.cfg" || fail "the installed system's command line lacks the blacklist or modeset"
grep -q "^d-i pkgsel/include string .*nvidia-modules-$krel.* nvidia-driver" "$work/preseed.cfg" ||
	fail "the preseed does not install the module package and nvidia-driver"
deb=$(ls "$work"/w/assemble/debs/nvidia-modules-*.deb)
provides=$(dpkg-deb -f "$deb" Provides)
echo "$provides" | grep -q "nvidia-kernel-[0-9]" || fail "$deb provides only: $provides"
echo "nvidia-modules: Provides: $provides"
conf=usr/share/initramfs-tools/modules.d/kldload-nvidia-modules-$krel.conf
[ "$(dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$conf" | tr '\n' ' ')" = \
	"nvidia-current nvidia-current-modeset nvidia-current-drm " ] || fail "$deb: $conf"
dpkg-deb -I "$deb" postinst | grep -q "update-initramfs -u -k $krel" ||
	fail "$deb does not rebuild the initramfs of $krel"
cd_dir=$work/w/assemble/cd
key=$XDG_DATA_HOME/kldload/repo-key/public.gpg
codename=$(sed -n 's/^codename //p' "$work/w/assemble/info")
r=$work/apt
mkdir -p "$r/lists/partial" "$r/archives/partial"
: >"$r/status"
echo "deb [signed-by=$key] file:$cd_dir $codename main" >"$r/sources.list"
aptq() {
	apt-get -o Dir::State="$r" -o Dir::State::status="$r/status" -o Dir::Cache="$r" \
		-o Dir::Etc::SourceList="$r/sources.list" -o Dir::Etc::SourceParts=- \
		-o Dir::Etc::Parts=- -o Dir::Etc::PreferencesParts=- -o APT::Architecture=amd64 \
		-o Acquire::Languages=none -o APT::Sandbox::User=root -q "$@"
}
aptq update >"$work/apt-update.log" 2>&1 && ! grep -q '^[WE]:' "$work/apt-update.log" ||
	{ cat "$work/apt-update.log"; fail "apt refused the image's repository"; }
aptq install --simulate "nvidia-modules-$krel" nvidia-driver >"$work/sim.log" 2>&1 ||
	{ tail -20 "$work/sim.log"; fail "apt cannot install nvidia-driver from the image"; }
grep -q "^Inst nvidia-driver " "$work/sim.log" || fail "apt would not install nvidia-driver"
if grep -qE "^Inst (nvidia-kernel-dkms|dkms) " "$work/sim.log"; then
	fail "apt would install DKMS beside the built modules: $(grep -E '^Inst (nvidia-kernel-dkms|dkms) ' "$work/sim.log")"
fi
echo "apt: nvidia-driver installs with nvidia-modules-$krel and without DKMS ($(grep -c '^Inst ' "$work/sim.log") packages)"

# The installed system's initramfs, in a root made from the image's repository alone.
cp "$key" "$work/key.gpg" && chmod 644 "$work/key.gpg" && chmod 755 "$work"
hook=
[ "$codename" != bookworm ] || hook=--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
mmdebstrap --quiet --mode=root --variant=apt --aptopt='Acquire::Languages "none"' $hook \
	--include="nvidia-modules-$krel,nvidia-kernel-support,initramfs-tools" \
	--customize-hook="chroot \"\$1\" lsinitramfs /boot/initrd.img-$krel >$work/initrd.txt" \
	"$codename" "$work/root" "deb [signed-by=$work/key.gpg] copy://$cd_dir $codename main" \
	>"$work/mm.log" 2>&1 || { tail -30 "$work/mm.log"; fail "mmdebstrap from the image failed"; }
for m in nvidia-current nvidia-current-modeset nvidia-current-drm; do
	grep -q "/updates/dkms/$m.ko$" "$work/initrd.txt" || fail "$m.ko is not in the initramfs"
done
echo "initramfs of $krel: $(grep -c '/updates/dkms/nvidia' "$work/initrd.txt") NVIDIA modules"
rm -rf "$work/root"

# 4. NVIDIA's kernel rules: no real-time kernel.
rt=$(echo "$krel" | sed 's/-\([a-z0-9]*\)$/-rt-\1/')
if nv "$work/rt" --module nvidia --kernel "$rt" --stage fetch..build-modules \
	2>"$work/rt.err" >/dev/null; then
	fail "nvidia was built for the real-time kernel $rt"
fi
grep -q "is not built for kernel $rt: BUILD_EXCLUSIVE_CONFIG: the kernel sets CONFIG_PREEMPT_RT" \
	"$work/rt.err" || { cat "$work/rt.err"; fail "the refusal of $rt does not say why"; }
[ ! -e "$work/rt/build-modules" ] || fail "the refused build left output"
echo "real-time kernel: $(grep -o 'nvidia-current [^(]*' "$work/rt.err" | head -n 1)"

# 5. Flavours.
if nv "$work/f" --module nvidia -O nvidia.flavour=beta --stage fetch..resolve 2>"$work/f.err" >/dev/null; then
	fail "an unknown flavour was accepted"
fi
grep -q "unknown flavour 'beta': use current, open, tesla or tesla-<branch>" "$work/f.err" ||
	{ cat "$work/f.err"; fail "the unknown flavour's message"; }
nv "$work/t" --module nvidia -O nvidia.flavour=tesla-535 --stage fetch..resolve 2>"$work/t.err" >/dev/null ||
	{ tail -20 "$work/t.err"; fail "flavour tesla-535 did not resolve"; }
grep -q "^nvidia-tesla-535-kernel-dkms .*source:nvidia" "$work/t/resolve/kldload.lock" &&
	grep -q "^nvidia-tesla-535-driver .*runtime:nvidia" "$work/t/resolve/kldload.lock" ||
	fail "flavour tesla-535 did not pick the tesla-535 packages"
echo "flavours: beta refused, tesla-535 resolves to nvidia-tesla-535-kernel-dkms"
echo "nvidia: all checks done"
