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

# Wall and CPU time (user+sys of the children) of both sides; the machine may be shared, so
# CPU time is the steadier figure.
mkdir sf
python3 - "$BUILD/kldload" "$work" "$key" "$cert" "$sign_file" <<'PY' >times.txt
import os, resource, subprocess, sys, time
kld, work, key, cert, sf = sys.argv[1:6]
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
w0, c0 = time.monotonic(), cpu()
subprocess.run([kld, "--stage", "sign", "--work-dir", f"{work}/w", "--output", f"{work}/o",
                "--sign-key", key, "--sign-cert", cert, "--force", "-q"], check=True,
               stdout=subprocess.DEVNULL)
w1, c1 = time.monotonic(), cpu()
for i, m in enumerate(open(f"{work}/list.txt").read().split(), 1):
    subprocess.run([sf, "sha256", key, cert, m, f"{work}/sf/{i}.ko"], check=True)
w2, c2 = time.monotonic(), cpu()
print(w1 - w0, c1 - c0, w2 - w1, c2 - c1)
PY

# Same bytes on both sides (every 50th module).
i=0
while read -r m; do
	i=$((i + 1))
	[ $((i % 50)) -eq 1 ] || continue
	out=w/sign/$abi/modules/${m#"$bm/modules/"}
	cmp -s "sf/$i.ko" "$out" || fail "$out differs from sign-file's output"
done <list.txt

python3 - "$n" "$bytes" "$bits" "$(nproc)" $(cat times.txt) <<'PY'
import sys
n, size, bits, cpus = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
kw, kc, sw, sc = map(float, sys.argv[5:9])
print(f"modules: {n} ({size / 2**20:.0f} MiB), RSA-{bits}, sha256, {cpus} CPUs")
print(f"kldload --stage sign, one process:   wall {kw:7.2f} s ({1000 * kw / n:5.2f} ms/module)"
      f"  cpu {kc:7.2f} s ({1000 * kc / n:5.2f} ms/module)")
print(f"sign-file, one process per module:   wall {sw:7.2f} s ({1000 * sw / n:5.2f} ms/module)"
      f"  cpu {sc:7.2f} s ({1000 * sc / n:5.2f} ms/module)")
print(f"ratio: {sw / kw:.1f}x less wall time, {sc / kc:.1f}x less CPU time in-process")
PY
