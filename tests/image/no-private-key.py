#!/usr/bin/env python3
"""Searches a tree (an ISO extracted, an output directory) for a private key, in every form it
could take there: the key's DER, a line of its PEM, and its private exponent (RSA) or scalar
(EC), in every file as it is, inside gzip and xz streams (initrds, indexes), and inside the .debs
kldload wrote (module packages: their control and data members, decompressed). The packages the
distribution signed are checked against the lock by hash, so their bytes are Debian's.

usage: no-private-key.py KEY.pem DIR...   exit 1 and the places when the key is found
"""
import gzip
import lzma
import os
import re
import subprocess
import sys


def needles(key):
    der = subprocess.run(["openssl", "pkey", "-in", key, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    text = subprocess.run(["openssl", "pkey", "-in", key, "-noout", "-text"],
                          check=True, capture_output=True, text=True).stdout
    out = {"DER": der}
    m = re.search(r"(privateExponent|priv):\n((?:\s+[0-9a-f:]+\n)+)", text)
    if m:
        secret = bytes.fromhex(re.sub(r"[\s:]", "", m.group(2)))
        out["private exponent"] = secret.lstrip(b"\0")[:64]
    pem = [l for l in open(key).read().splitlines() if l and not l.startswith("-----")]
    if len(pem) > 2:
        out["PEM line"] = pem[1].encode()
    return out


def ar_members(data):
    if not data.startswith(b"!<arch>\n"):
        return
    pos = 8
    while pos + 60 <= len(data):
        name = data[pos:pos + 16].decode(errors="replace").strip()
        size = int(data[pos + 48:pos + 58].decode().strip())
        yield name, data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)


def unpack(name, data):
    """(label, bytes) for the data itself and what it carries, decompressed."""
    yield name, data
    try:
        if data[:2] == b"\x1f\x8b":
            yield name + " (gunzip)", gzip.decompress(data)
        elif data[:6] == b"\xfd7zXZ\x00":
            yield name + " (unxz)", lzma.decompress(data)
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            yield name + " (unzstd)", subprocess.run(["zstd", "-dc"], input=data, check=True,
                                                     capture_output=True).stdout
    except (OSError, lzma.LZMAError, EOFError, subprocess.CalledProcessError):
        pass


def main(key, dirs):
    keys = needles(key)
    found, files, debs = [], 0, 0
    for top in dirs:
        for root, _, names in os.walk(top):
            for n in names:
                path = os.path.join(root, n)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                files += 1
                data = open(path, "rb").read()
                parts = list(unpack(path, data))
                if n.endswith(".deb") and "-modules-" in n:
                    debs += 1
                    for mname, mdata in ar_members(data):
                        parts += list(unpack("%s:%s" % (path, mname), mdata))
                for label, blob in parts:
                    for what, needle in keys.items():
                        if needle in blob:
                            found.append("%s: %s of the private key" % (label, what))
    for f in found:
        print("FOUND " + f)
    print("searched %d files (%d module packages opened) for %s" % (files, debs, ", ".join(keys)))
    return 1 if found else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
