#!/bin/sh
# Signing a real module set: every .ko of the release's linux-image package (Debian's own
# signatures stripped first, so both sides sign bare modules), laid out as build-modules output,
# signed by ONE `kldload --stage sign` run, against ONE `sign-file` process per module (what
# DKMS and most image builders do). Prints both times and the ratio, and checks that both sides
# wrote the same bytes for a sample.
# usage: bench/sign-bench.sh BUILD_DIR [BITS [COPIES]]
#   BITS    RSA key size (default 2048); COPIES: sign the set this many times over (default 1)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$here")
BUILD=$(cd "$1" && pwd)
bits=${2:-2048}
copies=${3:-1}
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

abi=$(kt_kernel_abi)
[ -n "$abi" ] || kt_skip "APT knows no kernel for this release"
tree=$(kt_kernel_tree "$abi")
sign_file=$(kt_sign_file "$abi")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The layout the sign stage reads: work/build-modules/<release>/{kernel.config,modules/...}.
rel=$tree/lib/modules/$abi
bm=w/build-modules/$abi
mkdir -p "$bm/modules"
cp "$tree/boot/config-$abi" "$bm/kernel.config"
python3 - "$rel" "$bm/modules" "$copies" <<'PY'
import os, struct, sys
src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
magic = b"~Module signature appended~\n"
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".ko"):
            continue
        d = open(os.path.join(root, f), "rb").read()
        if d.endswith(magic):
            n = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
            d = d[: -len(magic) - 12 - n]
        relp = os.path.relpath(os.path.join(root, f), src)
        for c in range(copies):
            out = os.path.join(dst, "linux" if c == 0 else f"copy{c}", relp)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            open(out, "wb").write(d)
PY
# The stage runner wants a completed build-modules stage: give it the stamp it would have left.
h=$(sha256sum "$bm/kernel.config" | cut -c1-64)
printf 'input %s\noutput %s\n' "$h" "$h" >w/build-modules.stamp
find "$bm/modules" -name '*.ko' | LC_ALL=C sort >list.txt
n=$(wc -l <list.txt)
bytes=$(du -sb "$bm/modules" | cut -f1)

"$BUILD/kldload" keygen --out k --bits "$bits" >/dev/null 2>&1
key=$work/k/signing-key.pem
cert=$work/k/signing-cert.pem

now() { date +%s.%N; }
t0=$(now)
"$BUILD/kldload" --stage sign --work-dir "$work/w" --output "$work/o" --sign-key "$key" \
	--sign-cert "$cert" --force -q >/dev/null
t1=$(now)
mkdir sf
i=0
while read -r m; do
	i=$((i + 1))
	"$sign_file" sha256 "$key" "$cert" "$m" "sf/$i.ko"
done <list.txt
t2=$(now)

# Same bytes on both sides (every 50th module).
i=0
while read -r m; do
	i=$((i + 1))
	[ $((i % 50)) -eq 1 ] || continue
	out=w/sign/$abi/modules/${m#"$bm/modules/"}
	cmp -s "sf/$i.ko" "$out" || fail "$out differs from sign-file's output"
done <list.txt

python3 - "$n" "$bytes" "$bits" "$t0" "$t1" "$t2" "$(nproc)" <<'PY'
import sys
n, size, bits = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0, t1, t2 = map(float, sys.argv[4:7])
k, s = t1 - t0, t2 - t1
print(f"modules: {n} ({size / 2**20:.0f} MiB), RSA-{bits}, sha256, {sys.argv[7]} CPUs")
print(f"kldload --stage sign (one process): {k:8.2f} s  {1000 * k / n:6.2f} ms/module")
print(f"sign-file, one process per module:  {s:8.2f} s  {1000 * s / n:6.2f} ms/module")
print(f"ratio: {s / k:.1f}x faster in-process")
PY
