#!/bin/sh
# A plugin built against the frozen SDK 1.0 headers loads and runs in the current core.
. "$(dirname "$0")/../lib/assert.sh"
here=$(cd "$(dirname "$0")" && pwd)

# The frozen headers are what plugins in the field were built with: they never change.
(cd "$here/sdk-1.0" && sha256sum -c --quiet SHA256SUMS) && pass || fail "tests/abi/sdk-1.0 was edited"

expect_exit 0 "$KLDLOAD" plugins --plugin-path "$OLD_PLUGIN_DIR"
expect_in "$T/stdout" "oldabi"
expect_in "$T/stdout" "1.0"
expect_exit 0 "$KLDLOAD" --plugin-path "$OLD_PLUGIN_DIR" --plugin oldabi --stage fetch \
	--work-dir "$T/work" --output "$T/res" --option oldabi.greeting=hi -v
expect_in "$T/stdout" "hello: $T/res/hello"
expect_in "$T/res/hello" "hi from ABI 1.0"
expect_in "$T/err" "built against SDK 1.0, host is 1."
finish
