#!/bin/sh
# SIGINT and SIGTERM stop a stage cleanly: no half-written output survives, the next run resumes.
. "$(dirname "$0")/../lib/assert.sh"
K="$KLDLOAD"
P="--plugin-path $TEST_PLUGIN_DIR --plugin testdistro --work-dir $T/work --output $T/out"

for sig in INT TERM; do
	rm -rf "$T/work" "$T/out"
	TESTDISTRO_BLOCK=resolve "$K" $P --stage fetch..resolve >"$T/stdout" 2>"$T/err" &
	pid=$!
	i=0
	while [ ! -e "$T/work/blocked" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$T/work/blocked" ] && pass || fail "the stage never started"
	kill -$sig $pid
	set +e
	wait $pid
	code=$?
	set -e
	[ $code -eq 130 ] && pass || fail "SIG$sig: exit $code, expected 130: $(cat "$T/err")"
	expect_in "$T/err" "stage 'resolve' interrupted"
	[ -d "$T/work/fetch" ] && pass || fail "the completed fetch stage was lost"
	[ ! -e "$T/work/resolve" ] && pass || fail "half-written resolve output survived"
	if ls -a "$T/work" | grep -q -e '\.tmp-' -e '\.old-'; then
		fail "temporary directories left: $(ls -a "$T/work")"
	else
		pass
	fi
	# The next run resumes: fetch is skipped, resolve runs.
	expect_exit 0 "$K" $P --stage fetch..resolve -v
	expect_in "$T/err" "fetch: up to date, skipped"
	expect_in "$T/err" "resolve: running"
	[ -f "$T/work/resolve/needs" ] && pass || fail "resolve did not complete after resuming"
done

# A run killed outright leaves its temporary directory; the next run removes it.
mkdir -p "$T/work/.resolve.tmp-99999"
expect_exit 0 "$K" $P --stage fetch..resolve
[ ! -e "$T/work/.resolve.tmp-99999" ] && pass || fail "a leftover temporary directory survived"

# Two runs on one work directory: the second is refused, not interleaved.
TESTDISTRO_BLOCK=fetch "$K" $P --stage fetch..resolve --force >/dev/null 2>&1 &
pid=$!
rm -f "$T/work/blocked"
i=0
while [ ! -e "$T/work/blocked" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
expect_exit 1 "$K" $P --stage fetch..resolve --force
expect_in "$T/err" "is in use by another kldload"
kill -INT $pid
wait $pid || true

finish
