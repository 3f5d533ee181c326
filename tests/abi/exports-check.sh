#!/bin/sh
# Every plugin exports exactly one symbol: its entry point (docs/plugin-abi.md).
set -eu
bad=0
n=0
for so in "$@"; do
	[ -f "$so" ] || continue
	n=$((n + 1))
	syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort)
	if [ "$syms" != "kldload_plugin_entry" ]; then
		echo "exports-check: $so exports: $(echo "$syms" | tr '\n' ' ')" >&2
		bad=1
	fi
done
[ "$n" -gt 0 ] || { echo "exports-check: no plugin given" >&2; exit 1; }
echo "exports-check: $n plugins export only kldload_plugin_entry"
exit $bad
