#!/usr/bin/env python3
"""The layer rule of crates/quilt-mcp-server: no module imports from a layer above its own.

The layers are the table under "## Layers" in docs/ARCHITECTURE.md (the map is the truth, so
the two cannot drift). Every `crate::<module>` path in the crate's code (`use` lines, grouped
`use crate::{a, b}`, and paths written inline), comments and strings aside, is checked
against that table; a module missing from the table is an error too, so a new file has to be
placed.

Why a script and not `cargo modules`: cargo-modules is not installed here or in CI, pulls in a
rust-analyzer build (minutes on two cores) for a check this small, and its dependency graph
answers "what uses what", not "is this edge allowed by our table" — that part would be a script
anyway. Text is enough because the crate's own paths are always spelled `crate::…` (rustfmt
and our style never use `super::super` across top-level modules).

Usage: scripts/layers.py [--self-test] [REPO_ROOT]
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

CRATE_SRC = Path("crates/quilt-mcp-server/src")
DOC = Path("docs/ARCHITECTURE.md")

# `crate::name` or `crate::{name, other::x}`.
PATH = re.compile(r"\bcrate::(?:([a-z0-9_]+)|\{)")
RAW = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(?:\\.[^']*|[^'\\])'")


def read_layers(doc_text: str) -> dict[str, tuple[int, str]]:
    """module -> (layer number, layer name), from the table under "## Layers"."""
    section = doc_text.split("\n## Layers", 1)
    if len(section) != 2:
        raise SystemExit(f"{DOC}: no '## Layers' section")
    layers: dict[str, tuple[int, str]] = {}
    for line in section[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].isdigit():
            continue
        number, name, modules = int(cells[0]), cells[1], cells[2]
        for module in re.findall(r"`([a-z0-9_]+)`", modules):
            if module in layers:
                raise SystemExit(f"{DOC}: `{module}` is in two layers")
            layers[module] = (number, name)
    if not layers:
        raise SystemExit(f"{DOC}: the '## Layers' table lists no modules")
    return layers


def code_only(text: str) -> str:
    """The text without comments, strings and char literals (doc links and messages name
    modules too). A small scanner, because regexes cannot tell `"//"` from a comment."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c in "br" and (raw := RAW.match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + raw.group(1), raw.end())
            i = n if end < 0 else end + 1 + len(raw.group(1))
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and (char := CHAR.match(text, i)):
            i += char.end()
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def imported(text: str) -> set[str]:
    """Top-level modules named by `crate::` paths in `text` (in a group `crate::{a, b::{c}}`,
    only the group's own items: `a`, `b`)."""
    code = code_only(text)
    found: set[str] = set()
    for match in PATH.finditer(code):
        if match.group(1):
            found.add(match.group(1))
            continue
        depth, i, items, item = 1, match.end(), [], ""
        while i < len(code) and depth:
            c = code[i]
            depth += {"{": 1, "}": -1}.get(c, 0)
            if depth == 1 and c == ",":
                items.append(item)
                item = ""
            elif depth >= 1:
                item += c
            i += 1
        items.append(item)
        for item in items:
            name = re.match(r"\s*([a-z0-9_]+)", item)
            if name:
                found.add(name.group(1))
    return found


def module_of(src: Path, file: Path) -> str:
    """`tools/admin/checks.rs` -> `tools`; `config.rs` -> `config`."""
    return file.relative_to(src).parts[0].removesuffix(".rs")


def check(root: Path) -> list[str]:
    """Every upward or unplaced import under `root`, as messages."""
    src = root / CRATE_SRC
    layers = read_layers((root / DOC).read_text())
    problems = []
    for file in sorted(src.rglob("*.rs")):
        if file.relative_to(src).parts[0] == "bin":
            continue  # binaries use the library's public API, not `crate::`
        module = module_of(src, file)
        if module not in layers:
            problems.append(f"{file.relative_to(root)}: module `{module}` is in no layer of {DOC}")
            continue
        own, own_name = layers[module]
        for target in sorted(imported(file.read_text())):
            if target == module:
                continue
            if target not in layers:
                problems.append(
                    f"{file.relative_to(root)}: imports `crate::{target}`, which is in no layer of {DOC}"
                )
            elif layers[target][0] > own:
                problems.append(
                    f"{file.relative_to(root)}: `{module}` ({own_name}, layer {own}) imports "
                    f"`crate::{target}` ({layers[target][1]}, layer {layers[target][0]}) from above"
                )
    return problems


def self_test() -> None:
    """The checker finds what it must: an upward import (plain, grouped, inline), an
    unplaced module; and it ignores comments and strings."""
    doc = "# x\n\n## Layers\n\n| layer | name | modules |\n|---|---|---|\n| 0 | low | `low` |\n| 1 | high | `high`, `other` |\n\n## Next\n"
    cases = {
        "clean": ({"low.rs": "pub fn f() {}\n", "high.rs": "use crate::low::f;\n"}, 0),
        "upward use": ({"low.rs": "use crate::high::g;\n", "high.rs": ""}, 1),
        "upward group": ({"low.rs": "use crate::{high, other::x};\n", "high.rs": "", "other.rs": ""}, 2),
        "nested group": ({"low.rs": "use crate::{\n    low::{high, x},\n    other,\n};\n", "other.rs": ""}, 1),
        "upward inline": ({"low/sub.rs": "fn f() { crate::high::g(); }\n", "low.rs": "", "high.rs": ""}, 1),
        "comments and strings": (
            {"low.rs": "//! see [`x`](crate::high)\nconst S: &str = \"crate::high\"; // crate::high\n", "high.rs": ""},
            0,
        ),
        "unplaced module": ({"stray.rs": "", "low.rs": ""}, 1),
        "import of an unplaced module": ({"low.rs": "use crate::stray;\n", "stray.rs": ""}, 2),
    }
    for name, (files, expected) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / DOC).parent.mkdir(parents=True)
            (root / DOC).write_text(doc)
            for rel, text in files.items():
                path = root / CRATE_SRC / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            problems = check(root)
            if len(problems) != expected:
                raise SystemExit(f"self-test {name!r}: expected {expected} problem(s), got {problems}")
    print(f"layers.py self-test: {len(cases)} cases ok")


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--self-test"]
    if "--self-test" in argv:
        self_test()
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    problems = check(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} import(s) break the layer rule ({DOC}, '## Layers')", file=sys.stderr)
        return 1
    print(f"layer rule holds for {CRATE_SRC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
