# shellcheck shell=sh
# Shared by the signing test scripts. Needs SRC and BUILD set.
KLDLOAD=$BUILD/kldload
HELPER=$BUILD/tests/sign/sign-helper

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The module without its appended signature (the file as it was before sign-file).
strip_signature() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = b"~Module signature appended~\n"
if d.endswith(magic):
    n = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
    d = d[: -len(magic) - 12 - n]
open(sys.argv[2], "wb").write(d)
PY
}

# The CMS blob of a signed module, DER.
extract_signature() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = b"~Module signature appended~\n"
assert d.endswith(magic), "not signed"
n = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
open(sys.argv[2], "wb").write(d[-len(magic) - 12 - n: -len(magic) - 12])
PY
}

# Signed module with the first byte of its CMS (the SEQUENCE tag 0x30) replaced.
corrupt_cms() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
magic = b"~Module signature appended~\n"
n = struct.unpack(">I", bytes(d[-len(magic) - 4:-len(magic)]))[0]
off = len(d) - len(magic) - 12 - n
assert d[off] == 0x30
d[off] = 0x31
open(sys.argv[2], "wb").write(d)
PY
}

# Signed module whose trailer claims a key id type other than PKCS#7.
corrupt_trailer_id() {
	python3 - "$1" "$2" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
magic = b"~Module signature appended~\n"
d[-len(magic) - 12 + 2] = 1
open(sys.argv[2], "wb").write(d)
PY
}
