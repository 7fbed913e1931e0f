#!/usr/bin/env python3
"""How many compile units a second cargo step recompiles after a first one, from cargo's unit
graphs, without compiling anything (docs/TESTING.md, "One compilation").

Usage (RUSTC_BOOTSTRAP=1 for the unstable --unit-graph):
  cargo build --workspace --bins -Z unstable-options --unit-graph > build.json
  cargo test --workspace --no-run -Z unstable-options --unit-graph > test.json
  tests/dev/unit_graph_diff.py build.json test.json   # what build recompiles after test

A unit is recompiled when its package, target, features, mode and debuginfo are not in the
first step's graph, or when any dependency of it is recompiled.
"""
import json
import sys


def key(u):
    return (u["pkg_id"], u["target"]["name"], tuple(u["features"]), u["mode"],
            tuple(u["target"]["kind"]), u["profile"].get("debuginfo"))


second = json.load(open(sys.argv[1]))["units"]
first = {key(u) for u in json.load(open(sys.argv[2]))["units"]}
memo = {}


def fresh(i):
    if i not in memo:
        memo[i] = True  # cycles cannot occur; this only guards re-entry
        u = second[i]
        memo[i] = key(u) in first and all(fresh(d["index"]) for d in u["dependencies"])
    return memo[i]


compiled = [u for i, u in enumerate(second)
            if not fresh(i) and u["mode"] == "build" and "custom-build" not in u["target"]["kind"]]
packages = sorted({u["pkg_id"].split("#")[-1] for u in compiled})
print(f"{len(compiled)} compile units recompiled ({len(packages)} packages)")
for p in packages:
    print("  " + p)
