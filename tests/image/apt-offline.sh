#!/bin/sh
# apt on a clean root trusts kldload's offline repository with its key (and not without it),
# and can install every package of it with no network: `apt-get install --simulate` of the
# whole set (the BIOS boot chain and the UEFI one are simulated apart: they conflict), then a
# real installation of each module package into a root debootstrapped from the repository alone.
# usage: apt-offline.sh CD-TREE KEYRING CODENAME [MODULE-PACKAGE...]
set -eu
cd_dir=$1 key=$2 codename=$3
shift 3
t=$(mktemp -d /tmp/kldload-apt-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$t"' EXIT
r=$t/root
mkdir -p "$r/etc/apt/sources.list.d" "$r/etc/apt/preferences.d" "$r/var/lib/apt/lists/partial" \
	"$r/var/cache/apt/archives/partial" "$r/var/lib/dpkg"
: >"$r/var/lib/dpkg/status"
apt_opts() {
	echo "-o Dir=$r -o Dir::State::status=$r/var/lib/dpkg/status -o APT::Architecture=amd64"
	echo "-o Dir::Etc::SourceList=$r/etc/apt/sources.list -o Dir::Etc::SourceParts=-"
	echo "-o Dir::Etc::Parts=- -o Dir::Etc::PreferencesParts=- -o Acquire::Languages=none -q"
	echo "-o APT::Sandbox::User=root"
}
echo "deb [signed-by=$key] file:$cd_dir $codename main" >"$r/etc/apt/sources.list"

# without the key apt refuses the repository
other=$t/other.gpg
gpg --batch --quiet --homedir "$t" --passphrase '' --quick-gen-key other ed25519 sign never
gpg --batch --homedir "$t" --export >"$other"
sed "s|signed-by=[^]]*|signed-by=$other|" "$r/etc/apt/sources.list" >"$t/wrong.list"
if apt-get $(apt_opts) -o Dir::Etc::SourceList="$t/wrong.list" update >"$t/wrong.log" 2>&1 &&
	! grep -q '^[WE]:' "$t/wrong.log"; then
	echo "FAIL: apt accepted the repository signed by another key" >&2
	exit 1
fi
grep -q 'NO_PUBKEY\|not signed\|signature' "$t/wrong.log"
rm -rf "$r/var/lib/apt/lists"/*

apt-get $(apt_opts) update >"$t/update.log" 2>&1 || { cat "$t/update.log"; exit 1; }
if grep -q '^[WE]:' "$t/update.log"; then cat "$t/update.log"; exit 1; fi
echo "apt update: signed repository accepted with $key"

# every package, in two sets: without the UEFI boot chain, and the UEFI boot chain
pk=$(find "$cd_dir/dists/$codename/main/binary-amd64" -name Packages)
all=$(sed -n 's/^Package: //p' "$pk" | sort -u)
efi=$(printf '%s\n' $all | grep -E '^(grub-efi|shim-|mokutil)' || true)
bios=$(printf '%s\n' $all | grep -vE '^(grub-efi|shim-)' | grep -vx 'grub-pc' || true)
apt-get $(apt_opts) install --simulate $bios >"$t/sim1.log" 2>&1 || { tail -30 "$t/sim1.log"; exit 1; }
apt-get $(apt_opts) install --simulate $efi >"$t/sim2.log" 2>&1 || { tail -30 "$t/sim2.log"; exit 1; }
apt-get $(apt_opts) install --simulate grub-pc >"$t/sim3.log" 2>&1 || { tail -30 "$t/sim3.log"; exit 1; }
n=$(grep -c '^Inst ' "$t/sim1.log")
echo "apt-get install --simulate: $n + $(grep -c '^Inst ' "$t/sim2.log") packages, nothing missing ($(printf '%s\n' $all | wc -l) in the repository)"

# a real install of each module package, in a root made from the repository alone
[ $# -gt 0 ] || exit 0
command -v mmdebstrap >/dev/null || { echo "no mmdebstrap: real install skipped"; exit 77; }
m=$t/chroot
cp "$key" "$t/key.gpg" && chmod 644 "$t/key.gpg" && chmod 755 "$t"
# the repository's Origin is kldload's, so mmdebstrap is told when this is a Debian whose
# merged /usr is made by a hook (before base-files 13, i.e. before trixie)
bf=$(awk '/^Package: base-files$/ {f = 1} f && /^Version:/ {print $2; exit}' "$pk")
hook=
if dpkg --compare-versions "$bf" lt 13; then hook=--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr; fi
mmdebstrap --quiet --mode=root --variant=apt --aptopt='Acquire::Languages "none"' $hook \
	--include="$(echo "$@" | tr ' ' ',')" \
	--customize-hook='chroot "$1" sh -c "ls /lib/modules/*/updates -R; cat /lib/modules/*/modules.dep" > '"$t/mods.txt" \
	"$codename" "$m" "deb [signed-by=$t/key.gpg] copy://$cd_dir $codename main" >"$t/mm.log" 2>&1 ||
	{ tail -30 "$t/mm.log"; exit 1; }
for p in "$@"; do
	mod=${p%%-modules-*}
	grep -q "^updates/.*: \|^updates/" "$t/mods.txt" || { echo "FAIL: no updates/ in modules.dep"; cat "$t/mods.txt"; exit 1; }
	echo "installed $p: $(grep -c '^updates/' "$t/mods.txt") modules in modules.dep under updates/"
done
