# shellcheck shell=sh
# Reusable pieces for tests that need a real Debian kernel: fetch packages from the host's
# configured APT mirror into a test cache, build a busybox initramfs that runs a script, boot it
# in QEMU (TCG only) and capture the serial console. Source it:  . "$SRC/tests/lib/kernel.sh"
#
#   kt_cache_dir                    the cache: $KLDLOAD_TEST_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/kldload-tests
#   kt_kernel_abi                   newest kernel ABI of the host release, e.g. 6.1.0-57-amd64
#                                   ($KLDLOAD_TEST_KERNEL overrides)
#   kt_pkg_version PKG              APT's candidate version of PKG (empty when unknown)
#   kt_fetch_deb PKG [VERSION]      download PKG (apt-get download, the configured mirror) and
#                                   extract it once; prints the extracted tree
#   kt_kernel_tree [ABI]            the extracted linux-image-ABI-unsigned package
#   kt_sign_file [ABI]              the kernel's own scripts/sign-file from linux-kbuild-X.Y
#   kt_busybox                      a static busybox from the mirror's busybox-static
#   kt_initramfs OUT SCRIPT [SRC=DST ...]
#                                   a newc cpio: busybox, /init that runs SCRIPT (a file, as
#                                   /kt/run.sh), extra files SRC copied to /DST; powers off after
#   kt_boot KERNEL INITRD OUTFILE [CMDLINE [TIMEOUT]]
#                                   boots with qemu-system-x86_64 -accel tcg, console to OUTFILE;
#                                   returns 0 when the script ran to its end ("KT-END" printed);
#                                   KT_MEM (MiB) and KT_QEMU_ARGS (extra words, e.g. pflash
#                                   drives for OVMF) adjust the machine
#   kt_mirror_uri                   the Debian mirror the host's APT sources name (first URI)
#   kt_suite_fetch_deb SUITE PKG    like kt_fetch_deb, from another suite of that mirror (e.g.
#                                   bookworm-backports) through private APT lists in the cache
#   kt_skip MESSAGE                 exit 77 (the tests' SKIP_RETURN_CODE)
#
# The script run inside prints what it likes; /init prints "KT-BEGIN" before it and
# "KT-END rc=N" after it. Nothing here names a mirror: APT's own configuration decides.

kt_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

kt_cache_dir() {
	d=${KLDLOAD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kldload-tests}
	mkdir -p "$d/debs" "$d/x" && echo "$d"
}

kt_pkg_version() {
	apt-cache policy "$1" 2>/dev/null | sed -n 's/^  Candidate: //p' | grep -v '(none)' | head -n1
}

kt_kernel_abi() {
	if [ -n "${KLDLOAD_TEST_KERNEL:-}" ]; then
		echo "$KLDLOAD_TEST_KERNEL"
		return 0
	fi
	arch=$(dpkg --print-architecture)
	apt-cache depends "linux-image-$arch" 2>/dev/null |
		sed -n "s/^ *Depends: linux-image-\([0-9][^ ]*-$arch\)\$/\1/p" | sort -V | tail -n1
}

kt_fetch_deb() {
	pkg=$1
	ver=${2:-$(kt_pkg_version "$pkg")}
	[ -n "$ver" ] || { echo "kt_fetch_deb: APT knows no package $pkg (apt-get update?)" >&2; return 1; }
	cache=$(kt_cache_dir) || return 1
	safe=$(echo "${pkg}_$ver" | tr ':' '%')
	tree="$cache/x/$safe"
	if [ ! -f "$tree/.done" ]; then
		deb=$(ls "$cache/debs/${pkg}_"*"$(echo "$ver" | sed 's/^[0-9]*://')"_*.deb 2>/dev/null | head -n1)
		if [ -z "$deb" ]; then
			(cd "$cache/debs" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) ||
				{ echo "kt_fetch_deb: apt-get download $pkg=$ver failed" >&2; return 1; }
			deb=$(ls "$cache/debs/${pkg}_"*"$(echo "$ver" | sed 's/^[0-9]*://')"_*.deb | head -n1)
		fi
		rm -rf "$tree.tmp" && mkdir -p "$tree.tmp" && dpkg-deb -x "$deb" "$tree.tmp" ||
			{ echo "kt_fetch_deb: cannot extract $deb" >&2; return 1; }
		rm -rf "$tree" && mv "$tree.tmp" "$tree" && touch "$tree/.done"
	fi
	echo "$tree"
}

kt_kernel_tree() {
	abi=${1:-$(kt_kernel_abi)}
	[ -n "$abi" ] || { echo "kt_kernel_tree: no kernel ABI known to APT" >&2; return 1; }
	kt_fetch_deb "linux-image-$abi-unsigned"
}

# The kbuild package of the same upstream version as the kernel image.
kt_sign_file() {
	abi=${1:-$(kt_kernel_abi)}
	ver=$(kt_pkg_version "linux-image-$abi-unsigned")
	series=$(echo "$abi" | sed 's/^\([0-9]*\.[0-9]*\)\..*/\1/')
	tree=$(kt_fetch_deb "linux-kbuild-$series" "$ver") || return 1
	echo "$tree/usr/lib/linux-kbuild-$series/scripts/sign-file"
}

kt_busybox() {
	tree=$(kt_fetch_deb busybox-static) || return 1
	echo "$tree/bin/busybox"
}

kt_initramfs() {
	out=$1
	script=$2
	shift 2
	bb=$(kt_busybox) || return 1
	root=$(mktemp -d) || return 1
	mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/kt"
	cp "$bb" "$root/bin/busybox"
	cp "$script" "$root/kt/run.sh"
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo "KT-BEGIN"
sh /kt/run.sh
echo "KT-END rc=$?"
sync
poweroff -f
EOF
	chmod 755 "$root/init" "$root/bin/busybox"
	for spec in "$@"; do
		src=${spec%%=*}
		dst=$root/${spec#*=}
		mkdir -p "$(dirname "$dst")" && cp -a "$src" "$dst" ||
			{ echo "kt_initramfs: cannot add $src" >&2; rm -rf "$root"; return 1; }
	done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out.tmp" &&
		mv "$out.tmp" "$out"
	rc=$?
	rm -rf "$root"
	return $rc
}

kt_boot() {
	kernel=$1
	initrd=$2
	out=$3
	cmdline=${4:-}
	limit=${5:-300}
	command -v qemu-system-x86_64 >/dev/null || { echo "kt_boot: no qemu-system-x86_64" >&2; return 1; }
	rm -f "$out"
	timeout "$limit" qemu-system-x86_64 -accel tcg -m "${KT_MEM:-512}" -smp 1 -nographic \
		-monitor none -serial "file:$out" -no-reboot -nic none \
		${KT_QEMU_ARGS:-} -kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0,115200 panic=-1 $cmdline" </dev/null >/dev/null 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "kt_boot: no power-off within ${limit}s; console in $out" >&2
	grep -q '^KT-END' "$out" 2>/dev/null
}

kt_mirror_uri() {
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v c="$codename" '
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
			/^$/ { if (ok && u) { print u; exit } ok = 0; u = "" }
			END { if (ok && u) print u }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v c="$codename" '$1 == "deb" && $3 == c { print $2 }'
}

kt_suite_fetch_deb() {
	suite=$1
	pkg=$2
	cache=$(kt_cache_dir) || return 1
	uri=$(kt_mirror_uri | head -n1)
	[ -n "$uri" ] || { echo "kt_suite_fetch_deb: no mirror in the APT sources" >&2; return 1; }
	d=$cache/apt-$suite
	mkdir -p "$d/lists/partial" "$d/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
		>"$d/sources.list"
	set -- -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d" -o Dir::Cache::pkgcache= \
		-o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root
	if [ -z "$(find "$d/lists" -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
		apt-get -q "$@" update >/dev/null 2>&1 ||
			{ echo "kt_suite_fetch_deb: apt-get update of $suite failed" >&2; return 1; }
	fi
	ver=$(apt-cache "$@" policy "$pkg" 2>/dev/null | sed -n 's/^  Candidate: //p' | grep -v none)
	[ -n "$ver" ] || { echo "kt_suite_fetch_deb: $suite has no $pkg" >&2; return 1; }
	tree=$cache/x/$(echo "${pkg}_$ver" | tr ':' '%')
	if [ ! -f "$tree/.done" ]; then
		(cd "$cache/debs" && apt-get -q "$@" download "$pkg=$ver" >/dev/null 2>&1) ||
			{ echo "kt_suite_fetch_deb: apt-get download $pkg=$ver failed" >&2; return 1; }
		deb=$(ls "$cache/debs/${pkg}_"*"$(echo "$ver" | sed 's/^[0-9]*://')"_*.deb | head -n1)
		rm -rf "$tree.tmp" && mkdir -p "$tree.tmp" && dpkg-deb -x "$deb" "$tree.tmp" &&
			rm -rf "$tree" && mv "$tree.tmp" "$tree" && touch "$tree/.done" || return 1
	fi
	echo "$tree"
}
