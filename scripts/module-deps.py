#!/usr/bin/env python3
"""Lists which file under src/ uses which other file (through `crate::` and `super::` paths),
reports import circles between files and between top-level folders, checks that every module
only uses modules of its own layer or below (LAYERS), and that a few types stay with their
owners (OWNED). Exit status 1 on any problem. `--list` prints the whole dependency listing.
scripts/test.sh runs it."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# Lowest first. A module may use its own layer and the ones listed before it.
LAYERS = [
    ["clock", "error", "metrics"],
    ["config"],
    ["security"],
    ["log"],
    ["partition"],
    ["topics", "quotas"],
    ["group", "share"],
    ["txn"],
    ["cluster"],
    ["broker"],
    ["api"],
    ["server", "http"],
    # Starting and stopping a node: the binary's sequence, shared with the embedding API.
    ["launch"],
    # The embedding API (EmbeddedBroker) sits with the binary: both run a node.
    ["embedded", "lib", "main"],
]


# Type name -> the top-level modules that may name it outside unit tests. The partition log is
# written and read only through partition::Partition, so there is one append path.
OWNED = {
    "PartitionLog": ["log", "partition"],
}


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def files():
    out = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                out[tuple(module_of(p))] = p
    return out


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def expand_use_groups(text):
    """`crate::a::{b, c::d}` -> ['crate::a::b', 'crate::a::c::d'] (one level of nesting enough)."""
    paths = []
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", text):
        head = m.group(1) + m.group(2)
        for part in re.split(r",(?![^{]*\})", m.group(3)):
            part = part.strip()
            if not part:
                continue
            inner = re.match(r"(\w+(?:::\w+)*)::\{(.*)\}", part, flags=re.S)
            if inner:
                for p in inner.group(2).split(","):
                    if p.strip():
                        paths.append(f"{head}::{inner.group(1)}::{p.strip().split(' ')[0]}")
            else:
                paths.append(f"{head}::{part.split(' ')[0]}")
    text = re.sub(r"\b(crate|super)((?:::\w+)*)::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", "", text)
    paths += re.findall(r"\b(?:crate|super)(?:::\w+)+", text)
    return paths


def resolve(mod, path, known):
    parts = path.split("::")
    if parts[0] == "crate":
        base = []
    else:
        base = list(mod)
        # `super` in a mod.rs-less file refers to the parent module.
        while parts and parts[0] == "super":
            base = base[:-1]
            parts = parts[1:]
        parts = ["x"] + parts
    full = base + parts[1:]
    for n in range(len(full), 0, -1):
        if tuple(full[:n]) in known:
            return tuple(full[:n])
    return None


def layer(mod):
    for i, names in enumerate(LAYERS):
        if mod[0] in names:
            return i
    return None


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    known = files()
    graph, folder_graph, problems = {}, {}, []
    for mod, path in sorted(known.items()):
        text = strip_comments(open(path, encoding="utf-8").read())
        # Unit tests may reach anywhere; they are not part of the layering.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        deps = set()
        for p in expand_use_groups(text):
            target = resolve(mod, p, known)
            if target and target != mod and target[: len(mod)] != mod:
                deps.add(target)
        # A module's own children, used by name (`produce::handle`). Re-exporting them
        # (`pub use batch::X`) is the folder's public face, not a use.
        body = re.sub(r"^\s*pub(?:\([^)]*\))? use [^;]*;", "", text, flags=re.M)
        for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))? )?mod (\w+);", text, re.M):
            c = mod + (child,)
            if c in known and re.search(rf"\b{child}::", body):
                deps.add(c)
        graph[mod] = deps
        for name, owners in OWNED.items():
            if mod[0] not in owners and re.search(rf"\b{name}\b", text):
                problems.append(f"{'/'.join(mod)} names {name}, which only {', '.join(owners)} may use")
        for d in deps:
            if d[0] != mod[0]:
                folder_graph.setdefault(mod[0], set()).add(d[0])
            lm, ld = layer(mod), layer(d)
            if lm is None or ld is None:
                problems.append(f"{'/'.join(mod)} -> {'/'.join(d)}: module not in LAYERS")
            elif ld > lm:
                problems.append(f"{'/'.join(mod)} uses {'/'.join(d)}, a layer above it")
    if "--list" in sys.argv:
        for mod, deps in sorted(graph.items()):
            print(f"{'/'.join(mod)}: {', '.join('/'.join(d) for d in sorted(deps))}")
        print()
        for f, deps in sorted(folder_graph.items()):
            print(f"[{f}] -> {', '.join(sorted(deps))}")
    for comp in sccs(graph):
        problems.append("file circle: " + " <-> ".join("/".join(m) for m in comp))
    for comp in sccs({k: v for k, v in folder_graph.items()}):
        problems.append("folder circle: " + " <-> ".join(comp))
    for p in problems:
        print(p)
    print(f"module-deps: {len(graph)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
