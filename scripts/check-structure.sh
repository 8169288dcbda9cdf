#!/usr/bin/env bash
# Structure checks that `make test` runs before the test suite (a few seconds, no build):
#   - no import cycle between the files of src/ (scripts/module-graph.py --check), nor
#     between its top-level modules (--modules --check);
#   - every "docs/<file>.md §N" cited in src/ or tests/ is a heading of that file, and no
#     citation names the behaviour reference without saying which file holds it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 scripts/module-graph.py --check
python3 scripts/module-graph.py --modules --check

git ls-files -z src tests | python3 -c '
import re, sys

names = [n for n in sys.stdin.read().split("\0") if n.endswith((".rs", ".case", ".md"))]
headings = {}
def sections(doc):
    if doc not in headings:
        found = set()
        for line in open(doc, encoding="utf-8"):
            m = re.match(r"#+\s+([0-9]+[A-Z]?(?:\.[0-9]+)*)\.?\s", line)
            if m:
                found.add(m.group(1))
        headings[doc] = found
    return headings[doc]

cite = re.compile(r"(docs/[a-z]+\.md) ((?:§[0-9]+[A-Z]?(?:\.[0-9]+)*(?:[–/-]|, | and )?)+)")
bad, count = [], 0
for name in names:
    text = open(name, encoding="utf-8", errors="replace").read()
    for n, line in enumerate(text.splitlines(), 1):
        if re.search(r"\bspec §", line, re.I):
            bad.append(f"{name}:{n}: cites \"spec §\" without naming a docs/ file")
        for m in cite.finditer(line):
            for sec in re.findall(r"§([0-9]+[A-Z]?(?:\.[0-9]+)*)", m.group(2)):
                count += 1
                if sec not in sections(m.group(1)):
                    bad.append(f"{name}:{n}: {m.group(1)} has no heading §{sec}")
for b in bad:
    print(b)
print(f"docs citations: {count} checked, {len(bad)} problem(s)")
sys.exit(1 if bad else 0)
'
