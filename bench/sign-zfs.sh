#!/bin/sh
# Signing OpenZFS's modules as built by kldload (build-modules, from the release's zfs-dkms):
# one `kldload --stage sign` run (and, to show the run's fixed cost, the stage function alone
# through tests/sign/sign-helper) against one `sign-file` process per module, repeated ROUNDS
# times (the set is small: 9 modules), checking that both wrote the same bytes.
# The build itself takes minutes the first time and comes from kldload's cache afterwards.
# usage: bench/sign-zfs.sh BUILD_DIR [RELEASE [ROUNDS]]     (default: oldstable, 20)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$here")
BUILD=$(cd "$1" && pwd)
REL=${2:-oldstable}
rounds=${3:-20}
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/sign/common.sh"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kldload-sign-zfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cache=$(kt_cache_dir)/kldload-cache
k() {
	"$KLDLOAD" --plugin-path "$BUILD/plugins" --plugin debian --release "$REL" --module zfs \
		--work-dir "$work/w" --cache-dir "$cache" --output "$work/out" "$@"
}
k --stage fetch..resolve -q >/dev/null
k --stage build-modules -q >/dev/null
krel=$(sed -n 's/^kernel: //p' "$work/w/resolve/kldload.lock")
find "$work/w/build-modules/$krel/modules" -name '*.ko' | LC_ALL=C sort >"$work/list.txt"
n=$(wc -l <"$work/list.txt")
[ "$n" -gt 0 ] || fail "the zfs build produced no modules"
sign_file=$(kt_sign_file "${krel}")
"$KLDLOAD" keygen --out "$work/k" >/dev/null 2>&1
key=$work/k/signing-key.pem
cert=$work/k/signing-cert.pem
mkdir "$work/sf"

python3 - "$work" "$rounds" "$key" "$cert" "$sign_file" "$KLDLOAD" "$BUILD/plugins" "$REL" \
	"$cache" >"$work/times.txt" <<'PY'
import resource, subprocess, sys, time
work, rounds, key, cert, sf, kld, plugins, rel, cache = sys.argv[1:10]
rounds = int(rounds)
mods = open(f"{work}/list.txt").read().split()
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
w0, c0 = time.monotonic(), cpu()
for _ in range(rounds):
    subprocess.run([kld, "--plugin-path", plugins, "--plugin", "debian", "--release", rel,
                    "--module", "zfs", "--work-dir", f"{work}/w", "--cache-dir", cache,
                    "--output", f"{work}/out", "--stage", "sign", "--force", "-q",
                    "--sign-key", key, "--sign-cert", cert], check=True,
                   stdout=subprocess.DEVNULL)
w1, c1 = time.monotonic(), cpu()
helper = kld.rsplit("/", 1)[0] + "/tests/sign/sign-helper"
for r in range(rounds):
    subprocess.run([helper, "stage", f"{work}/w", f"{work}/h{r}", key, cert], check=True)
wh, ch = time.monotonic(), cpu()
for _ in range(rounds):
    for i, m in enumerate(mods):
        subprocess.run([sf, "sha256", key, cert, m, f"{work}/sf/{i}.ko"], check=True)
w2, c2 = time.monotonic(), cpu()
print((w1 - w0) / rounds, (c1 - c0) / rounds, (w2 - wh) / rounds, (c2 - ch) / rounds,
      (wh - w1) / rounds, (ch - c1) / rounds)
PY
i=0
while read -r m; do
	cmp -s "$work/sf/$i.ko" "$work/w/sign/$krel/modules/${m#"$work/w/build-modules/$krel/modules/"}" ||
		fail "$m: kldload and sign-file differ"
	i=$((i + 1))
done <"$work/list.txt"
set -- $(cat "$work/times.txt")
python3 - "$n" "$krel" "$rounds" "$@" <<'PY'
import sys
n, krel, rounds = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kw, kc, sw, sc, hw, hc = map(float, sys.argv[4:10])
print(f"zfs for {krel}: {n} modules, RSA-2048, sha256, mean of {rounds} rounds")
print(f"kldload --stage sign (whole run):    wall {1000 * kw:7.1f} ms  cpu {1000 * kc:7.1f} ms")
print(f"  the sign stage alone (sign-helper): wall {1000 * hw:7.1f} ms  cpu {1000 * hc:7.1f} ms")
print(f"sign-file x {n}:                      wall {1000 * sw:7.1f} ms  cpu {1000 * sc:7.1f} ms")
print(f"ratio: {sw / kw:.1f}x wall, {sc / kc:.1f}x CPU for the whole run; "
      f"{sw / hw:.1f}x wall, {sc / hc:.1f}x CPU for the stage alone")
PY
