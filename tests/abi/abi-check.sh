#!/bin/sh
# Compares the SDK's ABI (through the anchor library) with the committed baseline. Appended
# members and new types pass; a removed, moved, resized or retyped member fails.
# Usage: abi-check.sh BASELINE.xml ANCHOR.so SUPPRESSIONS
set -eu
if ! command -v abidiff >/dev/null; then
	echo "abi-check: abidiff not found (install abigail-tools: tools/install-deps.sh)" >&2
	exit 1
fi
if abidiff --no-added-syms --suppressions "$3" "$1" "$2"; then
	echo "abi-check: the SDK keeps the ABI of $1"
	exit 0
fi
echo "abi-check: the SDK's ABI changed incompatibly (see above). A plugin built against the" >&2
echo "baseline would break: append members at the end of a table instead. If a new ABI major" >&2
echo "is really intended, follow docs/plugin-abi.md and run tools/update-abi-baseline." >&2
exit 1
