# Shared helpers for the shell tests: sourced, never run.
# Every test runs in a fresh temporary directory with its own HOME, so no user file interferes.
set -eu
T=$(mktemp -d "${TMPDIR:-/tmp}/kldload-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_CACHE_HOME="$T/home/.cache"
export XDG_DATA_HOME="$T/home/.local/share" KLDLOAD_SYSCONFDIR="$T/etc"
unset KLDLOAD_LOG KLDLOAD_PLUGIN_PATH
mkdir -p "$HOME"
fails=0
passes=0

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
pass() {
	passes=$((passes + 1))
}
# expect_exit CODE CMD...: runs CMD, stdout to $T/out, stderr to $T/err
expect_exit() {
	want=$1
	shift
	set +e
	"$@" >"$T/stdout" 2>"$T/err"
	got=$?
	set -e
	if [ "$got" -ne "$want" ]; then
		fail "'$*' exited $got, expected $want; stderr: $(cat "$T/err")"
	else
		pass
	fi
}
# expect_in FILE TEXT: FILE contains TEXT (fixed string)
expect_in() {
	if grep -qF -- "$2" "$1"; then pass; else fail "'$2' not in $1: $(cat "$1")"; fi
}
expect_not_in() {
	if grep -qF -- "$2" "$1"; then fail "'$2' unexpectedly in $1: $(cat "$1")"; else pass; fi
}
# expect_lines FILE N: FILE has exactly N lines
expect_lines() {
	n=$(wc -l <"$1")
	if [ "$n" -eq "$2" ]; then pass; else fail "$1 has $n lines, expected $2: $(cat "$1")"; fi
}
finish() {
	echo "$passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}
