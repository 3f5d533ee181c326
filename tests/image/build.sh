#!/bin/sh
# The whole pipeline for a release, from the configured mirror to the ISO: fetch, resolve, build
# the ZFS modules, sign, assemble and boot-config. Prints the timings of a cold and a warm run.
set -eu
. "$(dirname "$0")/common.sh"
[ -s /etc/apt/sources.list.d/debian.sources ] || ls /etc/apt/sources.list >/dev/null 2>&1 || exit 77
# Cold: a work directory left by an earlier run would skip every stage (and print no password).
rm -rf "$work" "$out"
mkdir -p "$work" "$out"
t0=$(date +%s)
kldload 2>"$out/build.log" >"$out/results" || { tail -20 "$out/build.log"; exit 1; }
t1=$(date +%s)
kldload 2>"$out/warm.log" >/dev/null
t2=$(date +%s)
cat "$out/results"
grep -q '^image: .*\.iso$' "$out/results"
grep -q '^lock: ' "$out/results"
grep -q 'MOK enrolment password' "$out/build.log" || grep -q 'earlier build' "$out/build.log"
echo "build: $((t1 - t0)) s, rebuild with nothing changed: $((t2 - t1)) s"
