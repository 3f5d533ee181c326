#!/bin/sh
# The other half of qemu-sig-enforce: a kernel that TRUSTS kldload's key loads what kldload
# signed, with module.sig_enforce=1. The release's kernel boots under OVMF (UEFI, TCG) twice,
# with one writable variable store:
#   1. in setup mode the test writes kldload's certificate into the firmware's signature database
#      `db` (through efivarfs, as an EFI_SIGNATURE_LIST behind an empty time-based auth header);
#   2. the kernel then loads it at boot ("integrity: Loading X.509 certificate: UEFI:db") into its
#      platform keyring, which Debian's kernel also trusts for modules, and is asked to load:
#      the module signed by kldload's sign stage with that key     -> must load
#      the same module with one byte changed after signing        -> must be refused
#      the module signed with a second, unknown key               -> "module with unavailable key"
# This is the path a real machine takes with the key in db or enrolled with mokutil (MOK certs
# are loaded only under Secure Boot, through shim, which a TCG test cannot reach this way).
# usage: qemu-trusted.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

code=/usr/share/OVMF/OVMF_CODE_4M.fd
vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] && [ -f "$vars" ] || kt_skip "no OVMF (apt install ovmf)"
abi=$(kt_kernel_abi)
[ -n "$abi" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
tree=$(kt_kernel_tree "$abi") || exit 1
kmods=$tree/lib/modules/$abi/kernel
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

"$KLDLOAD" keygen --out trusted --subject "/CN=kldload trusted test key" >/dev/null 2>&1 &&
	"$KLDLOAD" keygen --out other --subject "/CN=kldload unknown key" >/dev/null 2>&1 ||
	fail "keygen failed"

# The module through the sign stage (build-modules layout by hand, Debian's signature stripped).
mkdir -p "w/build-modules/$abi/modules/crc8/updates/dkms" m
cp "$tree/boot/config-$abi" "w/build-modules/$abi/kernel.config"
strip_signature "$kmods/lib/crc8.ko" "w/build-modules/$abi/modules/crc8/updates/dkms/crc8.ko"
"$HELPER" stage w out "$work/trusted/signing-key.pem" "$work/trusted/signing-cert.pem" ||
	fail "the sign stage failed"
cp "out/$abi/modules/crc8/updates/dkms/crc8.ko" m/trusted.ko
python3 -c "
d = bytearray(open('m/trusted.ko', 'rb').read()); d[200] ^= 1
open('m/tampered.ko', 'wb').write(d)"
"$HELPER" sign sha256 other/signing-key.pem other/signing-cert.pem m/trusted.ko m/other.ko resign ||
	fail "signing with the second key failed"

# db's new content: attributes NV|BS|RT|TIME_BASED_AUTH, an EFI_VARIABLE_AUTHENTICATION_2 with
# no signature (accepted in setup mode), one EFI_SIGNATURE_LIST holding the X.509 certificate.
python3 - out/signing-cert.der db.var <<'PY'
import struct, sys, uuid
der = open(sys.argv[1], "rb").read()
guid = lambda s: uuid.UUID(s).bytes_le
size = 16 + len(der)
esl = guid("a5c059a1-94e4-4aa7-87b5-ab155c2bf072") + struct.pack("<III", 28 + size, 0, size) \
    + guid("605dab50-e046-4300-abb6-3dd810dd8b23") + der
when = struct.pack("<HBBBBBBIhBB", 2026, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)
auth = struct.pack("<IHH", 24, 0x0200, 0x0EF1) + guid("4aafd29d-68df-49ee-8aa9-347d375665a7")
open(sys.argv[2], "wb").write(struct.pack("<I", 0x27) + when + auth + esl)
PY

cat >enrol.sh <<'EOF'
insmod /efivarfs.ko && mount -t efivarfs efivarfs /sys/firmware/efi/efivars || exit 1
cat /db.var >/sys/firmware/efi/efivars/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f
echo "KT-ENROL $?"
EOF
cat >load.sh <<'EOF'
dmesg | grep -E 'UEFI:db|kldload'
for m in tampered other trusted; do
	echo "KT-CASE $m"
	insmod /m/$m.ko 2>&1
	echo "KT-RC $m $?"
done
grep -q '^crc8 ' /proc/modules && echo "KT-LOADED crc8"
EOF
kt_initramfs enrol.cpio enrol.sh db.var=db.var \
	"$kmods/fs/efivarfs/efivarfs.ko=efivarfs.ko" || fail "initramfs"
kt_initramfs load.cpio load.sh m/trusted.ko=m/trusted.ko m/tampered.ko=m/tampered.ko \
	m/other.ko=m/other.ko || fail "initramfs"
cp "$vars" vars.fd
export KT_QEMU_ARGS="-drive if=pflash,format=raw,readonly=on,file=$code -drive if=pflash,format=raw,file=$work/vars.fd"
kt_boot "$tree/boot/vmlinuz-$abi" enrol.cpio enrol.log "" 300 ||
	{ tail -n 20 enrol.log; fail "the enrolment boot did not finish"; }
tr -d '\r' <enrol.log | grep -q '^KT-ENROL 0' ||
	{ tr -d '\r' <enrol.log | sed -n '/KT-BEGIN/,/KT-END/p'; fail "the firmware refused the db update"; }
kt_boot "$tree/boot/vmlinuz-$abi" load.cpio load.log "module.sig_enforce=1" 300 ||
	{ tail -n 20 load.log; fail "the load boot did not finish"; }
tr -d '\r' <load.log >load.txt
echo "--- $abi under OVMF, module.sig_enforce=1, kldload's certificate in db:"
sed -n '/^KT-BEGIN/,/^KT-END/p' load.txt | sed 's/^/    /'
case_of() { sed -n "/^KT-CASE $1\$/,/^KT-RC $1 /p" load.txt; }
grep -q "Loaded X.509 cert 'kldload trusted test key" load.txt ||
	fail "the kernel did not load kldload's certificate from db"
case_of trusted | grep -q '^KT-RC trusted 0$' ||
	fail "the kernel refused the module kldload signed with a trusted key"
grep -q '^KT-LOADED crc8' load.txt || fail "crc8 is not in /proc/modules"
case_of tampered | grep -q '^KT-RC tampered 0$' && fail "a module changed after signing loaded"
case_of tampered | grep -q 'unavailable key' &&
	fail "tampered: the key was found, so the refusal must be the signature's, not the key's"
case_of other | grep -q 'module with unavailable key' ||
	fail "the unknown key was not reported as unavailable"
echo "PASS: $abi trusts and loads what kldload signed, and only that"
