#!/usr/bin/env python3
"""One-off conversion of the public headers' plain comments into Doxygen comments.

A header's opening comment block becomes its \\file description; every other whole-line `//`
comment becomes `///` (documenting the declaration below it), and a trailing `// ...` after code
becomes `///< ...` (documenting the member on its left). Run again, it changes nothing.
Usage: python3 scripts/doc_comments.py include/nabla
"""
import pathlib
import re
import sys


def convert(text):
    lines = text.split("\n")
    out = []
    opening = True  # inside the first comment block of the file
    for line in lines:
        stripped = line.lstrip()
        if opening and stripped.startswith("// ") or opening and stripped == "//":
            if not out:
                out.append("/// \\file")
            out.append(re.sub(r"^(\s*)//(?!/)", r"\1///", line))
            continue
        if opening and stripped.startswith("///"):
            out.append(line)
            continue
        opening = False
        if re.match(r"^\s*//(?!/)", line) and not re.match(r"^\s*// NOLINT", line):
            out.append(re.sub(r"^(\s*)//(?!/)", r"\1///", line))
            continue
        m = re.match(r"^(.*\S)(\s+)//(?![/<])\s?(.*)$", line)
        code = m.group(1).strip() if m else ""
        if m and '"' not in code and not m.group(3).startswith("NOLINT") and \
                not re.fullmatch(r"[{}();,]*", code) and not code.startswith("#"):
            out.append("%s%s///< %s" % (m.group(1), m.group(2), m.group(3)))
            continue
        out.append(line)
    return "\n".join(out)


for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.h")):
    text = path.read_text()
    new = convert(text)
    if new != text:
        path.write_text(new)
