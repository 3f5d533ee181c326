#!/bin/sh
# Installs into a temporary prefix, then builds a plugin against the installed SDK alone (with the
# CMake package, and with pkg-config) and loads it with the installed program.
. "$(dirname "$0")/../lib/assert.sh"
here=$(cd "$(dirname "$0")" && pwd)
prefix="$T/prefix"

cmake --install "$BUILD_DIR" --prefix "$prefix" >"$T/install.log" 2>&1 && pass ||
	fail "cmake --install failed: $(tail -5 "$T/install.log")"
K="$prefix/bin/kldload"
libdir=$(cd "$prefix" && ls -d lib*/kldload | head -n 1 | sed 's|/kldload$||')
for f in bin/kldload include/kldload/kldload.h include/kldload/plugin.h include/kldload/host.h \
	"$libdir/cmake/kldload/kldloadConfig.cmake" "$libdir/cmake/kldload/KldloadPlugin.cmake" \
	"$libdir/pkgconfig/kldload-sdk.pc" share/man/man1/kldload.1; do
	[ -f "$prefix/$f" ] && pass || fail "$f is not installed"
done
# Nothing of the core's internals is installed.
[ ! -e "$prefix/include/kldload/stage.h" ] && [ ! -e "$prefix/include/plan.h" ] && pass ||
	fail "core headers were installed"

# The installed program finds the installed plugins with no path given, from any prefix.
expect_exit 0 "$K" plugins
for so in "$BUILD_DIR"/plugins/*.so; do
	[ -e "$so" ] || continue
	expect_in "$T/stdout" "$prefix/$libdir/kldload/plugins/$(basename "$so")"
done

# A third-party plugin, built with the CMake package and nothing from the source tree.
mkdir -p "$T/hello"
cp "$here/hello.c" "$T/hello/"
cat >"$T/hello/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(hello C)
find_package(kldload 0.1 REQUIRED)
kldload_add_plugin(hello SOURCES hello.c NO_INSTALL)
CMAKE
(cmake -S "$T/hello" -B "$T/hello/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="-Wall -Werror" &&
	cmake --build "$T/hello/build") >"$T/hello.log" 2>&1 && pass ||
	fail "building against the installed SDK failed: $(tail -20 "$T/hello.log")"
so=$(find "$T/hello/build" -name hello.so | head -n 1)
expect_exit 0 "$K" plugins --plugin-path "$(dirname "$so")"
expect_in "$T/stdout" "hello            module  1.0"
syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }')
[ "$syms" = "kldload_plugin_entry" ] && pass || fail "hello.so exports: $syms"
expect_exit 0 "$K" --plugin-path "$(dirname "$so"):$TEST_PLUGIN_DIR" --plugin testdistro \
	--module hello --work-dir "$T/work" --output "$T/out" --stage fetch..resolve
expect_in "$T/out/needs" "hello 3 hello-tools"

# The same with pkg-config and a plain compiler.
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
mkdir -p "$T/pc"
cc -shared -fPIC -Wall -Werror $(pkg-config --cflags kldload-sdk) "$here/hello.c" \
	-o "$T/pc/hello.so" $(pkg-config --libs kldload-sdk) && pass || fail "pkg-config build failed"
syms=$(nm -D --defined-only "$T/pc/hello.so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }')
[ "$syms" = "kldload_plugin_entry" ] && pass || fail "pkg-config hello.so exports: $syms"
[ "$(realpath -m "$(pkg-config --variable=plugindir kldload-sdk)")" = "$(realpath -m "$prefix/$libdir/kldload/plugins")" ] && pass ||
	fail "plugindir is $(pkg-config --variable=plugindir kldload-sdk)"

# The example of docs/writing-a-plugin.md compiles against the installed SDK as it is written.
awk '/^## The smallest module recipe/ {f = 1} f && /^```c$/ {c = 1; next} c && /^```$/ {exit} c' \
	"$SOURCE_DIR/docs/writing-a-plugin.md" >"$T/pc/example.c"
[ -s "$T/pc/example.c" ] && cc -shared -fPIC -Wall -Werror $(pkg-config --cflags kldload-sdk) \
	"$T/pc/example.c" -o "$T/pc/example.so" && pass ||
	fail "the example of docs/writing-a-plugin.md does not compile"

# The man page is well-formed.
man -l "$prefix/share/man/man1/kldload.1" >"$T/man.txt" 2>&1 && pass || fail "man page: $(cat "$T/man.txt")"
expect_in "$T/man.txt" "EXIT STATUS"
finish
