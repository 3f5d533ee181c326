#!/bin/sh
# The ABI check must fail on a break and pass a compatible growth: it is run on copies of the SDK
# headers with one change each, recorded with abidw as the real baseline is.
# usage: abi-breaks.sh SDK_INCLUDE_DIR BASELINE.xml
set -eu
sdk=$1
baseline=$2
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0

# check NAME EXPECT(0|1) FILE SED-SCRIPT: apply the change, record, compare with the baseline
check() {
	name=$1 expect=$2 file=$3 script=$4
	rm -rf "$t/inc" && cp -r "$sdk" "$t/inc"
	sed -i "$script" "$t/inc/kldload/$file"
	if cmp -s "$sdk/kldload/$file" "$t/inc/kldload/$file"; then
		echo "FAIL: $name: the change did not apply to $file" >&2
		fails=$((fails + 1))
		return
	fi
	sh "$here/gen-anchor.sh" "$t/inc" "$t/anchor.c"
	cc -g -O0 -shared -fPIC -I"$t/inc" "$t/anchor.c" -o "$t/anchor.so"
	abidw --no-corpus-path "$t/anchor.so" >"$t/new.xml"
	set +e
	python3 "$here/abi-compat.py" "$baseline" "$t/new.xml" >"$t/out" 2>&1
	got=$?
	set -e
	if [ "$got" -ne "$expect" ]; then
		echo "FAIL: $name: abi-compat exited $got, expected $expect: $(cat "$t/out")" >&2
		fails=$((fails + 1))
	else
		echo "$name: $( [ "$expect" = 1 ] && head -n1 "$t/out" || echo compatible)"
	fi
}

check "widened size field" 1 build.h \
	's|uint32_t size; /\* sizeof(struct kld_build_service) in the host \*/|uint64_t size;|'
check "new parameter of a host service" 1 host.h \
	's|int (\*cancelled)(struct kld_ctx \*ctx);|int (*cancelled)(struct kld_ctx *ctx, int how);|'
check "retyped record member" 1 host.h 's|uint32_t kind;       /\* KLD_NEED_\* \*/|int32_t kind;|'
check "member inserted in the middle" 1 build.h 's|^\tuint32_t reserved0;$|&\n\tvoid *inserted;|'
check "member appended at the end" 0 build.h \
	's|const char \*(\*log_path)(struct kld_ctx \*ctx);|&\n\tint (*appended)(struct kld_ctx *ctx);|'
[ "$fails" -eq 0 ]
