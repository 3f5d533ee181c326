#!/bin/sh
# Compares the SDK's ABI (through the anchor library) with the committed baseline, in two steps:
#  1. abi-compat.py: every struct of the baseline keeps every member at its offset with its type,
#     and grows only at its end (a plugin built against the baseline keeps working);
#  2. abidiff: the ABI is exactly the recorded one, so that even a compatible change is recorded
#     on purpose (tools/update-abi-baseline) and becomes the reference of the next check.
# Usage: abi-check.sh BASELINE.xml ANCHOR.so
set -eu
if ! command -v abidw >/dev/null || ! command -v abidiff >/dev/null; then
	echo "abi-check: abidw/abidiff not found (install abigail-tools: tools/install-deps.sh)" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp)
trap 'rm -f "$t"' EXIT
abidw --no-corpus-path "$2" >"$t"
if ! python3 "$here/abi-compat.py" "$1" "$t"; then
	echo "abi-check: the SDK's ABI changed incompatibly (above): a plugin built against the" >&2
	echo "baseline would break. Append members at the end of a table instead; a new ABI major" >&2
	echo "is the only other way (docs/plugin-abi.md)." >&2
	exit 1
fi
if ! abidiff --no-added-syms "$1" "$2"; then
	echo "abi-check: the SDK's ABI grew compatibly but the baseline does not record it: bump" >&2
	echo "KLD_ABI_MINOR if this is a new member, and run tools/update-abi-baseline." >&2
	exit 1
fi
echo "abi-check: the SDK keeps the ABI of $1"
