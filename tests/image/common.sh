# Shared by the image tests: where the test build of a release lives, and how to run kldload.
# usage (sourced): . common.sh SOURCE_DIR BUILD_DIR RELEASE
src=$1 bld=$2 release=${3:-oldstable}
work=$bld/image-test/$release/work
out=$bld/image-test/$release/out
kldload() {
	"$bld/kldload" --plugin-path "$bld/plugins" --release "$release" --module zfs,wireguard \
		--work-dir "$work" --output "$out" \
		-O debian.boot_default=serial -O debian.boot_timeout=1 "$@"
}
iso_of() {
	ls "$out"/*.iso 2>/dev/null | head -1
}
need_build() {
	[ -n "$(iso_of)" ] || { echo "no image in $out: run image/$release-build first" >&2; exit 77; }
}
