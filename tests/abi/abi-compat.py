#!/usr/bin/env python3
"""Is the SDK ABI recorded in NEW (an abidw XML file) a compatible growth of OLD?

Every struct of OLD must be in NEW, at least as large, with every member of OLD at the same
offset and of the same type (types compared as C spelled them, through typedefs, pointers and
function signatures); members NEW adds must lie beyond OLD's size. Prints each break on a line
of its own and exits 1 when there is one.

usage: abi-compat.py OLD.xml NEW.xml
"""
import sys
import xml.etree.ElementTree as ET


def load(path):
    root = ET.parse(path).getroot()
    by_id = {e.get("id"): e for e in root.iter() if e.get("id")}
    structs = {}
    for e in root.iter("class-decl"):
        if e.get("name") and e.get("is-declaration-only") != "yes":
            structs.setdefault(e.get("name"), e)
    return by_id, structs


def spell(by_id, tid, depth=0):
    """The type `tid` as a string that differs whenever the ABI of the type differs."""
    e = by_id.get(tid)
    if e is None or depth > 20:
        return tid or "void"
    tag = e.tag
    if tag == "type-decl":
        return e.get("name")
    if tag == "typedef-decl":
        return spell(by_id, e.get("type-id"), depth + 1)
    if tag == "pointer-type-def":
        return spell(by_id, e.get("type-id"), depth + 1) + "*"
    if tag == "qualified-type-def":
        q = " ".join(k for k in ("const", "volatile") if e.get(k) == "yes")
        return q + " " + spell(by_id, e.get("type-id"), depth + 1)
    if tag == "class-decl":
        return "struct " + (e.get("name") or "?")
    if tag == "enum-decl":
        return "enum " + (e.get("name") or "?")
    if tag == "array-type-def":
        return spell(by_id, e.get("type-id"), depth + 1) + "[%s]" % e.get("size-in-bits")
    if tag == "function-type":
        params = [spell(by_id, p.get("type-id"), depth + 1) if p.get("is-variadic") != "yes"
                  else "..." for p in e.findall("parameter")]
        ret = e.find("return")
        return "fn(%s)->%s" % (", ".join(params),
                               spell(by_id, ret.get("type-id"), depth + 1) if ret is not None else "void")
    return tag


def members(by_id, s):
    out = []
    for dm in s.findall("data-member"):
        v = dm.find("var-decl")
        out.append((v.get("name"), int(dm.get("layout-offset-in-bits")),
                    spell(by_id, v.get("type-id"))))
    return out


def main(old_path, new_path):
    old_ids, old = load(old_path)
    new_ids, new = load(new_path)
    breaks = []
    for name, so in sorted(old.items()):
        sn = new.get(name)
        if sn is None:
            breaks.append("struct %s: removed" % name)
            continue
        size_o, size_n = int(so.get("size-in-bits", 0)), int(sn.get("size-in-bits", 0))
        if size_n < size_o:
            breaks.append("struct %s: shrank from %d to %d bytes" % (name, size_o // 8, size_n // 8))
        mo, mn = members(old_ids, so), members(new_ids, sn)
        by_name = {m[0]: m for m in mn}
        for mname, off, typ in mo:
            m = by_name.get(mname)
            if m is None:
                breaks.append("struct %s: member %s removed or renamed" % (name, mname))
            elif m[1] != off:
                breaks.append("struct %s: member %s moved from byte %d to %d"
                              % (name, mname, off // 8, m[1] // 8))
            elif m[2] != typ:
                breaks.append("struct %s: member %s changed type: %s -> %s" % (name, mname, typ, m[2]))
        old_names = {m[0] for m in mo}
        for mname, off, _ in mn:
            if mname not in old_names and off < size_o:
                breaks.append("struct %s: member %s inserted inside the old layout (byte %d)"
                              % (name, mname, off // 8))
    for b in breaks:
        print("abi break: " + b)
    return 1 if breaks else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
