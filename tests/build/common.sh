# shellcheck shell=sh
# Shared pieces of the module-build tests (issue 4). Source after tests/lib/kernel.sh.
#   SRC, BUILD                      the source and build trees (arguments of every script)
#   KLDLOAD, PLUGINS                the program and its freshly built plugins
#   bt_cache                        the tests' own kldload cache (never the user's)
#   bt_fixture_deb OUT VARIANT      a DKMS-style package made now (see fixture/)
#   bt_own_home DIR                 keys under DIR/home, the shared cache kept
#   bt_release                      the host's release codename, e.g. bookworm
#   bt_resolve WORK MODULES...      fetch..resolve for the host release with those modules
#   bt_add_to_lock WORK DEB KREL    put a local .deb into the cache and the lock's build root
#   bt_build WORK MODULES [ARGS]    kldload --stage build-modules
KLDLOAD=$BUILD/kldload
PLUGINS=$BUILD/plugins

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The tests' results cache is emptied before a build that must really compile.
bt_forget_results() {
	rm -rf "$(bt_cache)/build-results"
}

bt_cache() {
	d=$(kt_cache_dir)/kldload-cache
	mkdir -p "$d" && echo "$d"
}

# bt_own_home DIR: the keys kldload makes go to a home under DIR, while the tests' shared cache
# stays where it is (it is found through $HOME when KLDLOAD_TEST_CACHE is unset).
bt_own_home() {
	KLDLOAD_TEST_CACHE=$(kt_cache_dir)
	export KLDLOAD_TEST_CACHE
	export HOME="$1/home" XDG_CONFIG_HOME="$1/home/.config" XDG_DATA_HOME="$1/home/.local/share"
	mkdir -p "$HOME"
}

bt_release() {
	. /etc/os-release && echo "$VERSION_CODENAME"
}

# A DKMS package "kldtest-<variant>-dkms" with /usr/src/kldtest-<variant>-1.0/: dkms.conf,
# Makefile, kldtest.c. VARIANT: hello (a module that prints when loaded), net, write, modules,
# probe, oldmeta (an OpenZFS-like META that ends at Linux 4.19), exclusive (BUILD_EXCLUSIVE_KERNEL
# for 4.19 only), renamed (dkms.conf's version is not the directory's), insrc (builds inside
# /usr/src and moves the module into a hard-coded /var/lib/dkms, as west-chamber-dkms does) (see
# fixture/). PARAM, when given, is written to the source as "param" (the port or the host path
# the net and write variants try).
bt_fixture_deb() {
	out=$1
	variant=$2
	param=${3:-}
	name=kldtest-$variant
	root=$(mktemp -d) || return 1
	src=$root/usr/src/$name-1.0
	mkdir -p "$src" "$root/DEBIAN"
	cp "$SRC/tests/build/fixture/kldtest.c" "$src/"
	sed "s/@NAME@/$name/g; s/@VARIANT@/$variant/g" "$SRC/tests/build/fixture/dkms.conf.in" \
		>"$src/dkms.conf"
	sed "s/@VARIANT@/$variant/g" "$SRC/tests/build/fixture/Makefile.in" >"$src/Makefile"
	[ -z "$param" ] || echo "$param" >"$src/param"
	case $variant in
	oldmeta) printf 'Meta: 1\nName: zfs\nVersion: 0.7.0\nLinux-Maximum: 4.19\nLinux-Minimum: 2.6.32\n' \
		>"$src/META" ;;
	exclusive) echo 'BUILD_EXCLUSIVE_KERNEL="^4\.19\."' >>"$src/dkms.conf" ;;
	# dkms.conf names another version than the directory does (as apfs-dkms's does)
	renamed) sed -i 's/^PACKAGE_VERSION="1.0"$/PACKAGE_VERSION="1.0-1"/' "$src/dkms.conf" ;;
	insrc) cat >>"$src/dkms.conf" <<'CONF' ;;
PSRC=/usr/src/kldtest-insrc-1.0
MAKE[0]="make -C $PSRC KVER=${kernelver} KDIR=${kernel_source_dir}; mv $PSRC/kldtest.ko /var/lib/dkms/kldtest-insrc/1.0/build/"
CONF
	esac
	cat >"$root/DEBIAN/control" <<CTL
Package: $name-dkms
Version: 1.0-1
Architecture: all
Maintainer: kldload tests <tests@kldload.invalid>
Depends: dkms
Description: kldload test module ($variant)
 A fixture made at test time.
CTL
	# Reproducible, so that the build root made with it is reused from one run to the next.
	find "$root" -exec touch -h -d @1700000000 {} +
	SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group -Zgzip --build "$root" "$out" \
		>/dev/null
	rc=$?
	rm -rf "$root"
	return $rc
}

bt_resolve() {
	work=$1
	mods=$2
	"$KLDLOAD" --plugin-path "$PLUGINS" --plugin debian --release "$(bt_release)" \
		--module "$mods" --stage fetch..resolve --work-dir "$work" \
		--cache-dir "$(bt_cache)" --output "$work/out" -q
}

# Add DEB to the lock of WORK as part of the build root of KREL, and to the cache.
bt_add_to_lock() {
	work=$1
	deb=$2
	krel=$3
	lock=$work/resolve/kldload.lock
	sum=$(sha256sum "$deb" | cut -d' ' -f1)
	size=$(stat -c %s "$deb")
	dir=$(bt_cache)/sha256/$(echo "$sum" | cut -c1-2)
	mkdir -p "$dir" && cp "$deb" "$dir/$sum" || return 1
	name=$(dpkg-deb -f "$deb" Package)
	ver=$(dpkg-deb -f "$deb" Version)
	repo=$(sed -n 's/^repo: \([^ ]*\) .*/\1/p' "$lock" | head -n1)
	{
		sed '/^$/q' "$lock"
		{
			sed '1,/^$/d' "$lock" | grep -v "^$name "
			echo "$name $ver all $repo pool/kldload-fixture/$name.deb $size $sum build:$krel"
		} | LC_ALL=C sort
	} >"$lock.new" && mv "$lock.new" "$lock"
}

bt_build() {
	work=$1
	mods=$2
	shift 2
	"$KLDLOAD" --plugin-path "$PLUGINS" --plugin debian --release "$(bt_release)" \
		--module "$mods" --stage build-modules --work-dir "$work" \
		--cache-dir "$(bt_cache)" --output "$work/out" "$@"
}

# The kernel release the lock of WORK builds for.
bt_lock_kernel() {
	sed -n 's/^kernel: //p' "$1/resolve/kldload.lock"
}
