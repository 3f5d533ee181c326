#!/bin/sh
# `kldload plugins` lists what the loader accepts and reports what it refuses.
. "$(dirname "$0")/../lib/assert.sh"
K="$KLDLOAD"

expect_exit 0 "$K" plugins --plugin-path "$TEST_PLUGIN_DIR"
expect_in "$T/stdout" "NAME"
expect_in "$T/stdout" "testdistro"
expect_in "$T/stdout" "testmod "
expect_in "$T/stdout" "$TEST_PLUGIN_DIR/testmod.so"
expect_in "$T/stdout" "distro"

# A twin later in the path is shadowed by the first of its name.
expect_exit 0 "$K" plugins --plugin-path "$TEST_PLUGIN_DIR:$TEST_PLUGIN_DIR/twin"
expect_in "$T/stdout" "testmod_twin.so (shadowed)"

# Refused plugins: one line each on stderr, exit 3, and the good ones are still listed.
expect_exit 3 "$K" plugins --plugin-path "$TEST_PLUGIN_DIR/bad:$TEST_PLUGIN_DIR"
expect_in "$T/err" "refused: plugin $TEST_PLUGIN_DIR/bad/badmagic.so"
expect_in "$T/err" "unresolved.so: cannot be loaded"
expect_in "$T/stdout" "testdistro"
expect_in "$T/stdout" "amodule"

# The in-tree plugins are found from the build tree with no path given.
expect_exit 0 "$K" plugins
for p in $(ls "$BUILD_DIR/plugins" 2>/dev/null | sed 's/\.so$//'); do
	expect_in "$T/stdout" "$BUILD_DIR/plugins/$p.so"
done

finish
