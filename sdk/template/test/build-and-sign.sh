#!/bin/sh
# Builds the acme module with this plugin for the kernel of this machine's Debian release (from
# the mirror its APT uses), signs it, and checks the result with the kernel's own tools.
# Usage: build-and-sign.sh KLDLOAD PLUGIN_DIR [KEEP_DIR]: the signed acme.ko is copied to KEEP_DIR
# when given. Extra kldload arguments: $KLDLOAD_TEST_ARGS.
# Exit 77 (skipped) on a machine that is not Debian.
set -eu
kldload=$1
plugins=$2
keep=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. /etc/os-release
[ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ] || { echo "not Debian: skipped"; exit 77; }

# shellcheck disable=SC2086 # KLDLOAD_TEST_ARGS is a list of arguments
"$kldload" --plugin-path "$plugins" --plugin debian --release "$VERSION_CODENAME" \
	--module acme --stage fetch..sign --work-dir "$work/work" --output "$work/out" \
	${KLDLOAD_TEST_ARGS:-} >"$work/stdout" || { echo "FAIL: kldload failed" >&2; exit 1; }

ko=$(find "$work/work/sign" -name acme.ko | head -n 1)
[ -n "$ko" ] || { echo "FAIL: no signed acme.ko under $work/work/sign" >&2; exit 1; }
release=$(echo "$ko" | sed -n 's|.*/\([^/]*\)/modules/acme/.*|\1|p')
modinfo -F vermagic "$ko" | grep -q "^$release " ||
	{ echo "FAIL: vermagic of $ko is not $release: $(modinfo -F vermagic "$ko")" >&2; exit 1; }
modinfo -F signer "$ko" | grep -q . || { echo "FAIL: $ko is not signed" >&2; exit 1; }
"$kldload" verify-module "$ko" || { echo "FAIL: kldload verify-module $ko" >&2; exit 1; }
[ -z "$keep" ] || cp "$ko" "$keep/"
echo "ok: $ko, built for $release and signed"
