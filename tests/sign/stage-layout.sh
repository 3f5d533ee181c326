#!/bin/sh
# The sign stage on a build-modules layout made by hand from the release's real modules:
#   build-modules/<release>/kernel.config, build-modules/<release>/modules/<module>/<path>.ko
# Three "kernels": the real config (no compression), and the same with CONFIG_MODULE_COMPRESS_XZ
# and _ZSTD. Checks the output layout, every signature (verify-module and sign-file's bytes),
# the compressed forms (xz: CRC32 check, as the kernel's decoder needs), the per-user default key
# (made once, reused, announced with the mokutil hint), refusals (already signed, kernel without
# module signing, private key readable by others), and that the private key is in no output.
# usage: stage-layout.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

abi=$(kt_kernel_abi)
[ -n "$abi" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
tree=$(kt_kernel_tree "$abi") || exit 1
sign_file=$(kt_sign_file "$abi") || exit 1
kmods=$tree/lib/modules/$abi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export XDG_DATA_HOME="$work/xdg"

# name:path-below-/lib/modules/<release>
set -- crc8:kernel/lib/crc8.ko wireguard:kernel/drivers/net/wireguard/wireguard.ko \
	btrfs:kernel/fs/btrfs/btrfs.ko dummy:kernel/drivers/net/dummy.ko
lay_out() { # release config-edit
	rel=$1
	mkdir -p "wk/build-modules/$rel"
	sed "$2" "$tree/boot/config-$abi" >"wk/build-modules/$rel/kernel.config"
	shift 2
	for spec in "$@"; do
		name=${spec%%:*}
		path=${spec#*:}
		dst="wk/build-modules/$rel/modules/$name/updates/dkms/$(basename "$path")"
		mkdir -p "$(dirname "$dst")"
		strip_signature "$kmods/$path" "$dst"
	done
}
lay_out "$abi" 's/^x//' "$@"
lay_out "$abi-xz" 's/^CONFIG_MODULE_COMPRESS_NONE=y/CONFIG_MODULE_COMPRESS_XZ=y/' "$@"
lay_out "$abi-zstd" 's/^CONFIG_MODULE_COMPRESS_NONE=y/CONFIG_MODULE_COMPRESS_ZSTD=y/' "$@"
echo "not a module" >"wk/build-modules/$abi/modules/crc8/README"

# 1. No key configured: one is made in the per-user place, with the enrolment hint.
"$HELPER" stage wk out 2>stage.err || { cat stage.err; fail "sign stage failed"; }
keydir=$XDG_DATA_HOME/kldload/mok
[ -f "$keydir/signing-key.pem" ] || fail "no per-user key in $keydir"
[ "$(stat -c %a "$keydir/signing-key.pem")" = 600 ] || fail "per-user key is not mode 0600"
grep -q "made a new module signing key $keydir/signing-key.pem" stage.err ||
	{ cat stage.err; fail "the stage did not say where the new key is"; }
grep -q "mokutil --import $keydir/signing-cert.der" stage.err || fail "no enrolment hint"
sed 's/^/    /' stage.err
keysum=$(sha256sum <"$keydir/signing-key.pem")

# 2. Layout and signatures.
cmp -s out/signing-cert.der "$keydir/signing-cert.der" || fail "signing-cert.der is not the key's"
cmp -s out/signing-cert.pem "$keydir/signing-cert.pem" || fail "signing-cert.pem is not the key's"
cmp -s "out/$abi/kernel.config" "$tree/boot/config-$abi" || fail "kernel.config not carried over"
cmp -s "out/$abi/modules/crc8/README" "wk/build-modules/$abi/modules/crc8/README" ||
	fail "a non-module file was not carried over"
for rel_ext in "$abi:" "$abi-xz:.xz" "$abi-zstd:.zst"; do
	rel=${rel_ext%%:*}
	ext=${rel_ext#*:}
	for spec in "$@"; do
		name=${spec%%:*}
		base=$(basename "${spec#*:}")
		in="wk/build-modules/$rel/modules/$name/updates/dkms/$base"
		out="out/$rel/modules/$name/updates/dkms/$base$ext"
		[ -f "$out" ] || fail "missing $out"
		[ -z "$ext" ] || [ ! -e "out/$rel/modules/$name/updates/dkms/$base" ] ||
			fail "uncompressed copy left beside $out"
		"$KLDLOAD" verify-module "$out" --cert out/signing-cert.pem >report.txt ||
			{ cat report.txt; fail "$out does not verify"; }
		grep -q '^hash algorithm: sha256$' report.txt || fail "$out: not sha256"
		"$sign_file" sha256 "$keydir/signing-key.pem" "$keydir/signing-cert.pem" "$in" sf.ko
		case $ext in
		.xz)
			xz -t "$out" || fail "$out: xz -t failed"
			xz --robot --list "$out" | grep -q '^file.*CRC32' ||
				fail "$out: xz check is not CRC32 (the kernel's decoder needs it)"
			xz -dc "$out" >plain.ko ;;
		.zst)
			zstd -q -t "$out" || fail "$out: zstd -t failed"
			zstd -q -dc "$out" >plain.ko ;;
		*) cp "$out" plain.ko ;;
		esac
		cmp -s sf.ko plain.ko || fail "$out: not what sign-file makes of $in"
	done
done
echo "layout: $(find out -type f | wc -l) files; every module verifies and equals sign-file's"

# 3. The default key is reused, the output is deterministic.
"$HELPER" stage wk out2 2>stage2.err || { cat stage2.err; fail "second sign stage failed"; }
[ "$(sha256sum <"$keydir/signing-key.pem")" = "$keysum" ] || fail "the per-user key was replaced"
grep -q "using the per-user module signing key" stage2.err || fail "reuse not announced"
diff -r out out2 >/dev/null || fail "two runs with the same key differ"

# 4. The private key is in no output, in any form (PEM lines, DER, its secret numbers),
#    also not inside compressed modules.
python3 - "$keydir/signing-key.pem" out <<'PY' || fail "the private key leaked into the output"
import lzma, os, re, subprocess, sys
key, root = sys.argv[1], sys.argv[2]
pem = open(key).read()
needles = [l.encode() for l in pem.splitlines() if l and not l.startswith("-----")]
der = subprocess.run(["openssl", "pkey", "-in", key, "-outform", "DER"], capture_output=True,
                     check=True).stdout
needles.append(der)
text = subprocess.run(["openssl", "pkey", "-in", key, "-noout", "-text"], capture_output=True,
                      check=True, text=True).stdout
for field in ("privateExponent", "prime1", "prime2"):
    m = re.search(field + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    hexs = re.sub(r"[\s:]", "", m.group(1))
    needles.append(bytes.fromhex(hexs).lstrip(b"\0"))
count = 0
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        data = open(p, "rb").read()
        if p.endswith(".xz"):
            data = lzma.decompress(data)
        elif p.endswith(".zst"):
            data = subprocess.run(["zstd", "-dc", p], capture_output=True, check=True).stdout
        for n in needles:
            if n in data:
                print("private key material in", p)
                sys.exit(1)
        count += 1
print(f"private key: none of {len(needles)} forms found in {count} output files")
PY

# 5. Refusals.
mkdir -p wk2/build-modules/"$abi"/modules/crc8
cp "wk/build-modules/$abi/kernel.config" "wk2/build-modules/$abi/"
cp "$kmods/kernel/lib/crc8.ko" "wk2/build-modules/$abi/modules/crc8/"
"$HELPER" stage wk2 o3 2>err.txt && fail "an already-signed module was signed again"
grep -q "crc8.ko is already signed" err.txt || { cat err.txt; fail "no refusal message"; }
echo "refused: $(tail -n1 err.txt)"
SIGN_RESIGN=yes "$HELPER" stage wk2 o4 2>/dev/null || fail "re-signing was refused"
strip_signature "$kmods/kernel/lib/crc8.ko" u.ko
"$sign_file" sha256 "$keydir/signing-key.pem" "$keydir/signing-cert.pem" u.ko sf.ko
cmp -s sf.ko "o4/$abi/modules/crc8/crc8.ko" || fail "re-signed module differs from sign-file's"

sed -i 's/^CONFIG_MODULE_SIG=y/# CONFIG_MODULE_SIG is not set/' "wk2/build-modules/$abi/kernel.config"
"$HELPER" stage wk2 o5 2>err.txt && fail "signed for a kernel without module signatures"
grep -q "CONFIG_MODULE_SIG is not set" err.txt || { cat err.txt; fail "no reason given"; }
echo "refused: $(tail -n1 err.txt)"

cp "$keydir/signing-key.pem" loose.pem
chmod 644 loose.pem
"$HELPER" stage wk o6 "$work/loose.pem" "$keydir/signing-cert.pem" 2>err.txt &&
	fail "a world-readable private key was used"
grep -q "run \`chmod 600 $work/loose.pem\`" err.txt || { cat err.txt; fail "no chmod hint"; }
echo "refused: $(tail -n1 err.txt)"
echo "PASS"
