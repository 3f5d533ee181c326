#!/bin/sh
# The SDK template as a third party uses it (issue 7): install kldload to a temporary prefix,
# copy sdk/template out of the tree, build it against the installed SDK alone, and run its own
# test, which builds, checks and signs its module for this machine's Debian kernel with the
# installed kldload. Then the plugin ships as a binary: stripped, it is loaded by a kldload
# core built afterwards from the same sources, and builds the module again. A source archive
# whose SHA-256 does not match is refused with a message that names it, leaving no output.
# usage: template.sh SRC_DIR BUILD_DIR
set -u
SRC=$1
BUILD=$2
. "$SRC/tests/lib/kernel.sh"
. "$SRC/tests/build/common.sh"

[ -n "$(kt_kernel_abi)" ] || kt_skip "APT knows no kernel for this release (apt-get update?)"
t=$(mktemp -d /var/tmp/kldload-template-test.XXXXXX)
trap 'rm -rf "$t"' EXIT
bt_own_home "$t"
# The template's test takes extra kldload arguments from here: the tests' own cache.
export KLDLOAD_TEST_ARGS="--cache-dir $(bt_cache) -q"

cmake --install "$BUILD" --prefix "$t/prefix" >"$t/install.log" 2>&1 ||
	fail "cmake --install: $(tail -5 "$t/install.log")"
cp -r "$t/prefix/share/kldload/template" "$t/acme" ||
	fail "the template is not installed under share/kldload/template"
(cmake -S "$t/acme" -B "$t/acme/build" -DCMAKE_PREFIX_PATH="$t/prefix" &&
	cmake --build "$t/acme/build") >"$t/acme.log" 2>&1 ||
	fail "the template does not build against the installed SDK: $(tail -20 "$t/acme.log")"
grep -q "$SRC" "$t/acme/build/CMakeCache.txt" && fail "the template's build refers to the source tree"

# Its own test, as its author runs it: with the installed kldload.
bt_forget_results
ctest --test-dir "$t/acme/build" -V >"$t/ctest.log" 2>&1 ||
	fail "the template's own test failed: $(tail -30 "$t/ctest.log")"
grep -q "ok: .*acme.ko, built for .* and signed" "$t/ctest.log" ||
	fail "the template's test did not report a signed module: $(cat "$t/ctest.log")"
echo "template test: $(grep -m1 'ok: ' "$t/ctest.log")"

# Binary only: strip the plugin, then build a new core from the same sources and load it there.
mkdir -p "$t/vendor"
strip --strip-all -o "$t/vendor/acme.so" "$t/acme/build/acme.so" || fail "strip failed"
nm "$t/vendor/acme.so" 2>&1 | grep -q "no symbols" || fail "acme.so still has a symbol table"
(cmake -S "$SRC" -B "$t/core" -DKLDLOAD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
	cmake --build "$t/core" -j"$(nproc)" --target kldload debian) >"$t/core.log" 2>&1 ||
	fail "cannot build a second core: $(tail -20 "$t/core.log")"
"$t/core/kldload" plugins --plugin-path "$t/vendor" >"$t/plugins.txt" 2>&1
grep -q "^acme  *module  *1.0  *1\.[0-9]*  *MIT  *$t/vendor/acme.so" "$t/plugins.txt" ||
	fail "the new core does not list the stripped plugin: $(cat "$t/plugins.txt")"
bt_forget_results
sh "$t/acme/test/build-and-sign.sh" "$t/core/kldload" "$t/vendor:$t/core/plugins" "$t" \
	>"$t/binary.log" 2>&1 || fail "the stripped plugin did not build: $(tail -30 "$t/binary.log")"
echo "binary-only plugin: $(grep -m1 'ok: ' "$t/binary.log")"

# The kernel's module loader has the last word: the signed module loads into its kernel (QEMU).
krel=$(modinfo -F vermagic "$t/acme.ko" | cut -d' ' -f1)
tree=$(kt_kernel_tree "$krel") || kt_skip "no linux-image-$krel-unsigned on the mirror"
printf 'insmod /acme.ko\necho "KT-RC $?"\n' >"$t/run.sh"
kt_initramfs "$t/initrd.cpio" "$t/run.sh" "$t/acme.ko=acme.ko" || fail "cannot make the initramfs"
kt_boot "$tree/boot/vmlinuz-$krel" "$t/initrd.cpio" "$t/console.log" "" 300 ||
	{ tail -n 30 "$t/console.log"; fail "the kernel did not run the test script"; }
tr -d '\r' <"$t/console.log" | grep -q "acme: loaded, built by a kldload recipe" ||
	{ tail -n 30 "$t/console.log"; fail "acme.ko did not load into $krel"; }
echo "acme.ko loaded into $krel under QEMU"

# A source archive that is not the one pinned: refused, named, nothing left behind.
bad=0000000000000000000000000000000000000000000000000000000000000000
if "$t/core/kldload" --plugin-path "$t/vendor:$t/core/plugins" --plugin debian \
	--release "$(bt_release)" --module acme --option "acme.sha256=$bad" \
	--stage fetch..build-modules --work-dir "$t/w" --output "$t/o" --cache-dir "$(bt_cache)" \
	-q 2>"$t/bad.err"; then
	fail "a source archive with the wrong SHA-256 was accepted"
fi
grep -q "acme-1.0.tar.gz" "$t/bad.err" && grep -qi "sha-\?256\|hash" "$t/bad.err" ||
	fail "the refusal does not name the archive and its hash: $(cat "$t/bad.err")"
[ "$(wc -l <"$t/bad.err")" -le 2 ] || fail "the refusal is long: $(cat "$t/bad.err")"
[ ! -e "$t/w/build-modules" ] || fail "a refused source left build-modules output"
echo "wrong hash: $(head -n1 "$t/bad.err")"
echo "template: all checks done"
