#!/bin/sh
# The command line and the configuration files, through the real program.
. "$(dirname "$0")/../lib/assert.sh"
K="$KLDLOAD"
P="--plugin-path $TEST_PLUGIN_DIR --plugin testdistro --work-dir $T/work --output $T/out"

expect_exit 0 "$K" --help
expect_in "$T/stdout" "Usage: kldload"
expect_in "$T/stdout" "--module LIST"
expect_in "$T/stdout" "Exit status"
expect_exit 0 "$K" --version
expect_in "$T/stdout" "plugin ABI 1."

# Bad command lines: one line on stderr naming the offending thing, exit 2.
expect_exit 2 "$K" --no-such-option
expect_in "$T/err" "'--no-such-option'"
expect_lines "$T/err" 1
expect_exit 2 "$K" stray-word
expect_in "$T/err" "unknown command 'stray-word'"
expect_exit 2 "$K" $P --stage compile
expect_in "$T/err" "unknown stage in 'compile'"
expect_exit 2 "$K" $P --stage resolve..fetch
expect_in "$T/err" "runs backwards"
expect_exit 2 "$K" $P --jobs 0
expect_in "$T/err" "jobs '0' (command line) must be a number"
expect_exit 2 "$K" $P --fetch-timeout soon
expect_in "$T/err" "fetch_timeout 'soon' (command line) must be a number of seconds"
expect_exit 2 "$K" $P --option nodot=1
expect_in "$T/err" "PLUGIN.KEY=VALUE"

# Plugins that cannot be found or are refused: exit 3.
expect_exit 3 "$K" --plugin-path "$TEST_PLUGIN_DIR" --plugin nosuch
expect_in "$T/err" "no plugin named 'nosuch'"
expect_exit 3 "$K" $P --module nosuch
expect_in "$T/err" "unknown module 'nosuch'; available modules: testmod"
expect_exit 3 "$K" $P --module testmod --module "$TEST_PLUGIN_DIR/twin/testmod_twin.so"
expect_in "$T/err" "both declare the name 'testmod'"
expect_exit 3 "$K" --plugin "$TEST_PLUGIN_DIR/bad/newminor.so"
expect_in "$T/err" "newer than this kldload's"

# --dry-run prints the plan on stdout and runs nothing.
expect_exit 0 "$K" $P --module testmod:foo,testmod --release trixie --dry-run
expect_in "$T/stdout" "release=trixie"
expect_in "$T/stdout" "modules=testmod:foo,testmod"
expect_in "$T/stdout" "module testmod:foo 2.0"
[ ! -e "$T/work" ] && pass || fail "--dry-run created the work directory"

# A real run of the stages the test driver implements; results on stdout.
expect_exit 0 "$K" $P --module testmod:foo --stage fetch..resolve
expect_in "$T/stdout" "needs: $T/out/needs"
expect_in "$T/out/needs" "testmod:foo 1 foo-source"
[ ! -s "$T/err" ] && pass || fail "quiet by default, but stderr says: $(cat "$T/err")"
expect_exit 0 "$K" $P --module testmod:foo --stage fetch..resolve -v
expect_in "$T/err" "fetch: up to date, skipped"
expect_in "$T/err" "resolve: up to date, skipped"

# Published names may hold spaces, and are published again when the stage is skipped.
expect_exit 0 "$K" $P --option "testdistro.file=meta data" --stage fetch
expect_in "$T/stdout" "metadata: $T/out/meta data"
rm -f "$T/out/meta data"
expect_exit 0 "$K" $P --option "testdistro.file=meta data" --stage fetch -v
expect_in "$T/err" "fetch: up to date, skipped"
expect_in "$T/stdout" "metadata: $T/out/meta data"
[ -f "$T/out/meta data" ] && pass || fail "not published again after a skip"
expect_exit 2 "$K" $P --option "testdistro.label=two words" --stage fetch
expect_in "$T/err" "label 'two words' may only hold letters"

# A stage nothing implements fails plainly.
expect_exit 1 "$K" $P --module testmod:foo
expect_in "$T/err" "stage 'build-modules' is not implemented by the module plugin 'testmod:foo'"
expect_exit 1 "$K" $P --stage assemble
expect_in "$T/err" "stage 'assemble' is not implemented by the distro plugin 'testdistro'"

# Configuration: files, precedence, errors with file and line.
mkdir -p "$T/etc/kldload" "$XDG_CONFIG_HOME/kldload"
printf 'release = "bookworm";\njobs = 2;\n' >"$T/etc/kldload/kldload.conf"
printf 'release = "trixie";\ncolour = "blue";\n' >"$XDG_CONFIG_HOME/kldload/kldload.conf"
expect_exit 0 "$K" $P --dry-run
expect_in "$T/stdout" "release=trixie"
expect_in "$T/stdout" "jobs=2"
expect_in "$T/err" "kldload.conf:2: unknown setting 'colour' ignored"
expect_exit 0 "$K" $P --dry-run --release sid
expect_in "$T/stdout" "release=sid"
printf 'testdistro: { fail = "fetch"; };\nnosuchplugin: { x = 1; };\n' >"$T/extra.conf"
expect_exit 0 "$K" $P --config "$T/extra.conf" --dry-run
expect_in "$T/stdout" "testdistro.fail=fetch"
expect_in "$T/err" "extra.conf:2: setting 'nosuchplugin.x' is for 'nosuchplugin', which is not a known plugin"
expect_exit 5 "$K" $P --config "$T/extra.conf" --option testdistro.fail=resolve --stage fetch..resolve --force
expect_in "$T/err" "testdistro: asked to fail stage resolve"
printf 'jobs = "many";\n' >"$T/bad.conf"
expect_exit 2 "$K" $P --config "$T/bad.conf"
expect_in "$T/err" "bad.conf:1: 'jobs' must be a whole number"
printf 'release = "x"\nrelease2 = ;\n' >"$T/bad.conf"
expect_exit 2 "$K" $P --config "$T/bad.conf"
expect_in "$T/err" "bad.conf:2:"
expect_exit 2 "$K" $P --config "$T/missing.conf"
expect_in "$T/err" "missing.conf does not exist"

# KLDLOAD_LOG selects a category's level.
KLDLOAD_LOG=plugin=debug expect_exit 0 "$K" $P --dry-run
expect_in "$T/err" "plugin: debug: loaded testdistro 1.0"

finish
