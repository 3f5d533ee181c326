#!/bin/bash
# Benchmark: every DKMS package of a release (every package that depends on dkms, in main,
# contrib and non-free), built for the release's current kernel by kldload's dkms recipe
# (`--module dkms:PACKAGE`, sandboxed build root) and by `dkms build` in a chroot of the same
# release (mmdebstrap: dkms, the kernel's headers, then each package installed with DKMS's
# autoinstall switched off). Prints one row per package, each side's result and build seconds,
# the counts, the packages dkms builds that kldload does not, and the first compiler error of
# each failed build. Exits 1 when dkms builds a package that kldload does not (the opt-in test
# `corpus/<release>` runs it so). Needs root and a few GB under $TMPDIR; takes about an hour and
# a half for bookworm's forty packages on two cores.
# usage: bench/dkms-corpus.sh BUILD_DIR [RELEASE [PACKAGE...]]
set -u
BUILD=$(cd "$1" && pwd)
REL=${2:-oldstable}
shift $(($# < 2 ? $# : 2))
KLDLOAD=$BUILD/kldload
. "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (mmdebstrap, chroot)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "bench: needs mmdebstrap" >&2; exit 1; }
b=$(mktemp -d "${TMPDIR:-/var/tmp}/kldload-dkms-bench.XXXXXX")
c=$b/chroot
trap 'umount "$c/proc" 2>/dev/null; rm -rf "$b"' EXIT
cache=${KLDLOAD_BENCH_CACHE:-$b/cache}
k() {
	"$KLDLOAD" --plugin-path "$BUILD/plugins" --plugin debian --release "$REL" \
		--cache-dir "$cache" -j "$(nproc)" -q "$@"
}
secs() { echo "$2 - $1" | bc | xargs printf '%.1f'; }
# The first compiler error (or dkms/kldload refusal) in the logs given, paths trimmed.
first_error() {
	grep -h -m1 -E '(error|Error): |^-E- |is not built for kernel|not supported' "$@" 2>/dev/null |
		head -n1 | sed -E 's|^[^ ]*/([^/ ]+:[0-9]+:[0-9]+: )|\1|' | cut -c1-150
}

# The release's kernel and its DKMS packages, from kldload's own verified fetch.
k --module wireguard --stage fetch..resolve --work-dir "$b/probe" --output "$b/probe/out" \
	>/dev/null || exit 1
krel=$(sed -n 's/^kernel: //p' "$b/probe/resolve/kldload.lock")
codename=$(sed -n 's/^release: \([a-z]*\).*/\1/p' "$b/probe/resolve/kldload.lock")
codename=${codename:-$REL}
arch=$(dpkg --print-architecture)
apt_setup "$b/apt" "$codename" "$arch" 2>/dev/null || exit 1
if [ $# -eq 0 ]; then
	# shellcheck disable=SC2086
	set -- $(apt-cache $APT_OPTS dumpavail | python3 -c '
import re, sys
for para in sys.stdin.read().split("\n\n"):
    p = re.search(r"^Package: (\S+)", para, re.M)
    d = re.search(r"^Depends: (.*)$", para, re.M)
    if p and d and re.search(r"(^|[ ,|])dkms($|[ ,(])", d.group(1)):
        print(p.group(1))' | sort -u)
fi
echo "release $codename, kernel $krel, $(nproc) CPUs, $# DKMS packages"

# The dkms side: a chroot of the release with dkms and the kernel's headers.
mmdebstrap --quiet --mode=root --variant=apt --components="main contrib non-free non-free-firmware" \
	--include="dkms,linux-headers-$krel,ca-certificates" \
	--customize-hook='mkdir -p "$1/etc/dkms" && touch "$1/etc/dkms/no-autoinstall"' \
	"$codename" "$c" "deb [signed-by=$KEYRING] $MIRROR $codename main contrib non-free non-free-firmware" \
	>"$b/mmdebstrap.log" 2>&1 || { tail -20 "$b/mmdebstrap.log"; exit 1; }
mount -t proc proc "$c/proc"
cp /etc/resolv.conf "$c/etc/resolv.conf" 2>/dev/null
chroot "$c" apt-get update -q >"$b/chroot-update.log" 2>&1 || { tail "$b/chroot-update.log"; exit 1; }

printf '%-34s %-22s %-30s %-30s\n' package version kldload "dkms build"
k_ok=0 d_ok=0 only_dkms=
mkdir -p "$b/k"
for p in "$@"; do
	ver=$(apt-cache $APT_OPTS show "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
	w=$b/k/$p
	# kldload: resolve (not timed), then build-modules (timed)
	if k --module "dkms:$p" --stage fetch..resolve --work-dir "$w" --output "$w/out" \
		2>"$w.resolve.err" >/dev/null; then
		t0=$(now)
		if k --module "dkms:$p" --stage build-modules --work-dir "$w" --output "$w/out" \
			2>"$w.err" >/dev/null; then
			n=$(find "$w/build-modules" -name '*.ko' | wc -l)
			kres="ok $n .ko, $(secs "$t0" "$(now)") s"
			k_ok=$((k_ok + 1))
		else
			kres="FAIL $(secs "$t0" "$(now)") s"
			kwhy=$(grep -m1 -o 'is not built for kernel .*\|failed (exit [0-9]*)\|no dkms.conf.*' "$w.err")
			[ -z "$kwhy" ] || kres="$kres: ${kwhy:0:60}"
			echo "$p (kldload): $(first_error "$w"/build-logs/*/*.log "$w.err")" >>"$b/causes"
		fi
	else
		kres="FAIL resolve: $(tail -n1 "$w.resolve.err" | cut -c1-60)"
	fi
	rm -rf "$w"

	# dkms: install the package (autoinstall off), add, then time `dkms build`
	dres=
	if chroot "$c" apt-get install -y -q --no-install-recommends "$p" >"$b/$p.apt.log" 2>&1; then
		conf=$(chroot "$c" dpkg -L "$p" | grep -m1 '/usr/src/.*/dkms.conf$')
		name=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}.*/\1/p' "$c$conf" | head -n1)
		src=$(dirname "$conf")
		mv=${src##*/}
		mv=${mv#"$name"-}
		chroot "$c" dkms add -m "$name" -v "$mv" >"$b/$p.dkms.log" 2>&1
		t0=$(now)
		if chroot "$c" dkms build -m "$name" -v "$mv" -k "$krel" >>"$b/$p.dkms.log" 2>&1; then
			dres="ok $(secs "$t0" "$(now)") s"
			d_ok=$((d_ok + 1))
			case $kres in ok*) ;; *) only_dkms="$only_dkms $p" ;; esac
		else
			dres="FAIL $(secs "$t0" "$(now)") s: $(grep -m1 -io 'not supported\|BUILD_EXCLUSIVE[^.]*\|Bad return status\|error: [^ ]*' "$b/$p.dkms.log" | cut -c1-50)"
			echo "$p (dkms): $(first_error "$c/var/lib/dkms/$name/$mv/build/make.log" "$b/$p.dkms.log")" >>"$b/causes"
		fi
		chroot "$c" dkms remove -m "$name" -v "$mv" --all >/dev/null 2>&1
		chroot "$c" apt-get purge -y -q "$p" >/dev/null 2>&1
	else
		dres="FAIL install: $(grep -m1 '^E:' "$b/$p.apt.log" | cut -c1-50)"
	fi
	printf '%-34s %-22s %-30s %-30s\n' "$p" "$ver" "$kres" "$dres"
done
echo "kldload built $k_ok of $#, dkms built $d_ok of $#"
echo "built by dkms and not by kldload:${only_dkms:- none}"
if [ -s "$b/causes" ]; then
	echo "first error of each failed build:"
	sed 's/^/  /' "$b/causes"
fi
[ -z "$only_dkms" ]
