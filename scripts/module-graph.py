#!/usr/bin/env python3
"""The file-level module graph of src/: which file uses which, and the import cycles.

    scripts/module-graph.py            edges, then a summary with every cycle
    scripts/module-graph.py --check    the summary only; exit status 1 if there is a cycle
    scripts/module-graph.py --dot      the edges in Graphviz form
    scripts/module-graph.py --modules  the same with each file counted as its top-level
                                       module (src/protocol/imap.rs is `protocol`)
    scripts/module-graph.py --floors   the files by floor: floor 0 uses no other file,
                                       floor n uses only files below n (a cycle shares
                                       one floor, marked with *)

An edge `a.rs -> b.rs` means a path in a.rs (a `use` or a path in code, comments and
string literals left out) names an item of the module that b.rs holds: `crate::x::y`,
`super::`, `self::`, a child module declared in a.rs, a top-level module named in lib.rs,
or `imtest::` in main.rs. Declaring a module (`mod x;`) is not an edge. A path is resolved
to the deepest module that has its own file, so `crate::net::stack::Stack` is an edge to
src/net/stack.rs and `crate::net::Stack` one to src/net/mod.rs. Paths inside inline
modules (`mod tests { use super::*; }`) are resolved from the inline module.

A cycle is a strongly connected set of two or more files; one shortest loop through each
set is printed. Run from anywhere; needs only python3.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
CRATE = "imtest"  # the library's name in Cargo.toml, as main.rs spells it


def module_files():
    """Maps module paths (tuples, () = crate root) to files relative to src/."""
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
            if rel in ("lib.rs", "main.rs"):
                continue
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            files[tuple(parts)] = rel
    files[()] = "lib.rs"
    return files


def strip(text):
    """The code without comments, string literals and char literals (kept: line breaks)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif re.match(r'b?r#*"', text[i:i + 8]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}', b'{') or a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (globs dropped; `as` aliases
    were removed from the code before)."""
    tree = re.sub(r"\s+", "", tree)
    depth, start, parts = 0, 0, []
    brace = tree.find("{")
    if brace < 0:
        return [tree.rstrip(":*")]
    prefix, inner = tree[:brace], tree[brace + 1:tree.rfind("}")]
    for i, c in enumerate(inner):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    result = []
    for part in parts:
        if not part:
            continue
        if part == "self":
            result.append(prefix.rstrip(":"))
        else:
            result.extend(expand_use(prefix + part))
    return result


def file_edges(rel, own, files, top_level):
    """The set of files that file `rel` (module path `own`) uses."""
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        code = strip(f.read())
    # `x as y` in use trees: the alias is not a path.
    code = re.sub(r"\bas\s+\w+", "", code)
    # Inline modules: (start offset, end offset, module path) by brace matching.
    scopes = []
    stack = []
    for m in re.finditer(r"\bmod\s+(\w+)\s*\{|[{}]", code):
        if m.group(1):
            stack.append(m.group(1))
            scopes.append([m.start(), None, m.group(1)])
        elif m.group(0) == "{":
            stack.append(None)
        else:
            if stack:
                name = stack.pop()
                if name is not None:
                    for s in reversed(scopes):
                        if s[1] is None and s[2] == name:
                            s[1] = m.end()
                            break

    def scope_at(offset):
        path = list(own)
        for start, end, name in scopes:
            if start <= offset and (end is None or offset < end):
                path.append(name)
        return path

    children = set(re.findall(r"\bmod\s+(\w+)\s*;", code))
    inline = {s[2] for s in scopes}
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        for p in expand_use(m.group(1)):
            paths.append((m.start(), p))
    for m in re.finditer(r"(?<![\w:])((?:crate|super|self|%s|\w+)(?:::\w+)+)" % CRATE, code):
        paths.append((m.start(), m.group(1)))

    targets = set()
    for offset, path in paths:
        segs = [s for s in path.split("::") if s]
        if not segs:
            continue
        here = scope_at(offset)
        head = segs[0]
        if head == "crate" or (rel == "main.rs" and head == CRATE):
            full = segs[1:]
        elif head == "super":
            base = list(here)
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
            full = base + segs
        elif head == "self":
            full = list(here) + segs[1:]
        elif head in children and len(here) == len(own):
            full = list(own) + segs
        elif head in inline:
            full = list(own) + segs
        elif own == () and head in top_level:
            full = segs
        else:
            continue  # std::, openssl::, a type's associated item, ...
        # The deepest module along `full` that has a file.
        best = ()
        for k in range(len(full), 0, -1):
            if tuple(full[:k]) in files:
                best = tuple(full[:k])
                break
        target = files[best]
        if target != rel:
            targets.add(target)
    return targets


def cycles(graph):
    """Strongly connected components with two or more nodes (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def shortest_loop(graph, comp):
    """One shortest loop through the component's first node (breadth-first)."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                loop = [v]
                while prev[loop[-1]] is not None:
                    loop.append(prev[loop[-1]])
                return list(reversed(loop)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def floors(graph, found):
    """Floor of each node: 0 for no uses, else 1 + the highest floor it uses. The members
    of a cycle are taken as one node."""
    group = {v: v for v in graph}
    for comp in found:
        for v in comp:
            group[v] = comp[0]
    uses = {}
    for a, bs in graph.items():
        uses.setdefault(group[a], set()).update(group[b] for b in bs if group[b] != group[a])
    floor = {}

    def level(v):
        if v not in floor:
            floor[v] = 0
            floor[v] = 1 + max((level(w) for w in uses.get(v, ())), default=-1)
        return floor[v]

    return {v: level(group[v]) for v in graph}


def top_module(node):
    """src/protocol/imap.rs -> protocol, src/auth.rs -> auth, src/lib.rs -> lib."""
    rel = node[len("src/"):]
    return rel.split("/")[0][:-3] if "/" not in rel else rel.split("/")[0]


def collapse(graph):
    """The graph between top-level modules (edges inside one module dropped)."""
    out = {}
    for a, bs in graph.items():
        out.setdefault(top_module(a), set())
        for b in bs:
            if top_module(a) != top_module(b):
                out[top_module(a)].add(top_module(b))
    return out


def main():
    args = sys.argv[1:]
    files = module_files()
    with open(os.path.join(ROOT, "lib.rs"), encoding="utf-8") as f:
        top_level = set(re.findall(r"\bmod\s+(\w+)\s*;", strip(f.read())))
    graph = {}
    for own, rel in sorted(files.items(), key=lambda kv: kv[1]):
        graph["src/" + rel] = {"src/" + t for t in file_edges(rel, own, files, top_level)}
    graph["src/main.rs"] = {"src/" + t for t in file_edges("main.rs", (), files, top_level)}

    if "--modules" in args:
        graph = collapse(graph)
    edges = sorted((a, b) for a, bs in graph.items() for b in bs)
    found = cycles(graph)
    if "--floors" in args:
        in_cycle = {v for comp in found for v in comp}
        by_floor = {}
        for v, f in floors(graph, found).items():
            by_floor.setdefault(f, []).append(v + ("*" if v in in_cycle else ""))
        for f in sorted(by_floor):
            print(f"floor {f}: " + " ".join(sorted(by_floor[f])))
        print()
    elif "--dot" in args:
        print("digraph src {")
        for a, b in edges:
            print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    if "--check" not in args and "--floors" not in args:
        for a, b in edges:
            print(f"{a} -> {b}")
        print()
    unit = "modules" if "--modules" in args else "files"
    print(f"{len(graph)} {unit}, {len(edges)} edges, {len(found)} cycle(s)")
    for comp in found:
        print(f"cycle among {len(comp)} {unit}: " + " ".join(comp))
        print("  e.g. " + " -> ".join(shortest_loop(graph, comp)))
    return 1 if found and "--check" in args else 0


if __name__ == "__main__":
    sys.exit(main())
