#!/usr/bin/env python3
"""Package-scale benchmark (issue 16; not part of `make test`). Loopback only, bounded, stops
by itself.

How cost grows with a package's size. For manifests of N entries (default 10k, 100k, 1M),
written by quilt3 (`Package.build`: quilt3's own manifest and top hash, no data copied — the
entries point at `s3://src/data/<i>` with sizes and SHA-256 hashes set, so no object has to
exist), it times, on the server (release binary, a fresh process per operation so each peak
RSS is that operation's alone):

  browse_first   `package_browse` of latest, the first 1,000 entries
  browse_deep    `package_browse` with the prefix of the LAST directory (the manifest's end)
  validate       `package_validate` of an update adding one entry, against a workflow whose
                 entries schema sees every entry of the revision (so the check reads them all)
  diff           `package_diff` of two revisions of N entries differing in 1% (hash changed)
  update         `package_update` adding one entry (referenced, not copied) to latest

and quilt3 8.x doing the same in its own process (browse = `Package.browse` and reading the
same entries; diff = `Package.diff` of the two browsed revisions; validate =
`Package._validate_with_workflow`, what `push`/`build` run; update = browse, `set`, `build`).
Each line: wall time and peak RSS (VmHWM) of ours and of quilt3's; after the update, quilt3
writes the same revision again from ours, and the two top hashes must agree.

Writes tests/perf/results/package_scale.json and prints a Markdown table.

Usage: .venv/bin/python tests/perf/package_scale.py [--server BIN] [--sizes 10000,100000,1000000]
       [--no-quilt3-ops]
(default BIN: $CARGO_TARGET_DIR or target/, release/quilt-mcp-server; build it with
`cargo build --release -p quilt-mcp-server`).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import boto3
import httpx2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Processes, free_port, loadavg, peak_rss_kib, wait_200  # noqa: E402

SECRET = "perf-secret-0123456789abcdefghijklmnop"
AUDIENCE = "quilt-mcp-perf"
REGISTRY = "s3://reg"
WORKFLOWS = """version: "1"
is_workflow_required: false
workflows:
  every-entry:
    name: Every entry checked
    entries_schema: entries
schemas:
  entries:
    url: s3://reg/.quilt/workflows/entries.json
"""
# Every entry must have a logical key and a size: true of all of them, so the check passes
# after reading each one.
ENTRIES_SCHEMA = {"type": "array", "items": {"type": "object", "required": ["logical_key", "size"]}}

# quilt3 side, one process per step so its peak RSS is that step's. SPEC carries the inputs.
QUILT3 = r"""
import hashlib, json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/python"))
import quilt3_tool
quilt3_tool._prepare_env(os.environ["MOTO_URL"])
import quilt3
from quilt3.packages import Package, PackageEntry
from quilt3.util import PhysicalKey
spec = json.loads(os.environ["SPEC"])
op, name, reg = spec["op"], spec["name"], spec["registry"]

def logical_key(i):
    return f"d/{i // 1000:04d}/f{i:07d}.csv"

def digest(i, salt):
    return hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()

out = {}
started = time.perf_counter()
if op == "build":
    pkg = Package()
    changed = set(spec.get("changed", []))
    for i in range(spec["n"]):
        salt = "b" if i in changed else "a"
        entry = PackageEntry(PhysicalKey.from_url(f"s3://src/data/{i}"), i % 4096 + 1,
                             {"type": "SHA256", "value": digest(i, salt)}, None)
        pkg.set(logical_key(i), entry)
    out["top_hash"] = pkg.build(name, registry=reg, message=spec["message"], workflow=None)
elif op in ("browse_first", "browse_deep"):
    pkg = Package.browse(name, registry=reg)
    prefix = spec.get("prefix", "")
    seen = 0
    for lk, _ in pkg.walk():
        if lk.startswith(prefix):
            seen += 1
            if seen == 1000:
                break
    out["entries"] = seen
elif op == "diff":
    a = Package.browse(name, registry=reg, top_hash=spec["a"])
    b = Package.browse(name, registry=reg, top_hash=spec["b"])
    added, modified, removed = a.diff(b)
    out.update(added=len(added), modified=len(modified), removed=len(removed))
elif op == "validate":
    pkg = Package.browse(name, registry=reg)
    pkg.set(spec["new_key"], spec["new_uri"])
    from quilt3.backends import get_package_registry
    pkg._validate_with_workflow(registry=get_package_registry(reg), workflow="every-entry", name=name,
                                message="scale")
    out["valid"] = True
elif op == "update":
    pkg = Package.browse(name, registry=reg)
    pkg.set(spec["new_key"], spec["new_uri"])
    out["top_hash"] = pkg.build(name, registry=reg, message=spec["message"], workflow=None)
out["wall_s"] = time.perf_counter() - started
with open("/proc/self/status") as f:
    out["peak_rss_kib"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
print(json.dumps(out))
"""


def quilt3(moto_url, spec, timeout=7200):
    env = dict(os.environ, ROOT=ROOT, MOTO_URL=moto_url, SPEC=json.dumps(spec))
    p = subprocess.run([os.path.join(ROOT, ".venv/bin/python"), "-c", QUILT3], env=env,
                       capture_output=True, timeout=timeout)
    lines = p.stdout.decode().strip().splitlines()
    if p.returncode != 0 or not lines:
        return {"failed": (p.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


class Server:
    """A fresh release server for one operation; `peak_kib` is its VmHWM after the call."""

    def __init__(self, procs, binary, moto_url, token):
        self.procs, self.port = procs, free_port()
        env = {"PATH": os.environ.get("PATH", ""), "MCP_LISTEN": f"127.0.0.1:{self.port}",
               "MCP_JWT_SECRET": SECRET, "MCP_JWT_AUDIENCE": AUDIENCE, "MCP_CREDENTIAL_SOURCES": "jwt",
               "AWS_ENDPOINT_URL": moto_url, "AWS_REGION": "us-east-1", "MCP_REQUEST_TIMEOUT_S": "3600",
               "RUST_LOG": "warn"}
        self.proc = procs.start([binary], env=env, guard=False)
        wait_200(f"http://127.0.0.1:{self.port}/readyz")
        self.client = httpx2.Client(timeout=3600, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})

    def call(self, tool, arguments):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        started = time.perf_counter()
        r = self.client.post(f"http://127.0.0.1:{self.port}/mcp", json=body)
        wall = time.perf_counter() - started
        r.raise_for_status()
        result = r.json()["result"]
        if result.get("isError"):
            raise SystemExit(f"{tool} failed: {result['structuredContent']}")
        return result["structuredContent"], wall

    def close(self):
        peak = peak_rss_kib(self.proc.pid)
        self.client.close()
        self.procs.stop(self.proc)
        return peak


def main():
    ap = argparse.ArgumentParser()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--server", default=os.path.join(target, "release/quilt-mcp-server"))
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--no-quilt3-ops", action="store_true", help="quilt3 only writes the manifests")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    procs = Processes()
    rows = []
    try:
        moto_port = free_port()
        moto_url = f"http://127.0.0.1:{moto_port}"
        procs.start([os.path.join(ROOT, ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
        wait_200(moto_url + "/moto-api/")
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        for b in ("src", "reg"):
            s3.create_bucket(Bucket=b)
        s3.put_object(Bucket="reg", Key=".quilt/workflows/config.yml", Body=WORKFLOWS.encode())
        s3.put_object(Bucket="reg", Key=".quilt/workflows/entries.json", Body=json.dumps(ENTRIES_SCHEMA).encode())
        s3.put_object(Bucket="src", Key="new/added.csv", Body=b"a,b\n1,2\n")
        token = subprocess.check_output(
            [args.server, "token", "--subject", "perf", "--audience", AUDIENCE, "--claims",
             json.dumps({"aws_credentials": {"access_key_id": "AKIAPERFPERFPERF0001",
                                             "secret_access_key": "perf-secret-key"}})],
            env={"MCP_JWT_SECRET": SECRET, "PATH": os.environ.get("PATH", "")}).decode().strip()

        for n in sizes:
            name = f"scale/n{n}"
            changed = list(range(0, n, 100))  # 1%
            a = quilt3(moto_url, {"op": "build", "name": name, "registry": REGISTRY, "n": n, "message": "a"})
            b = quilt3(moto_url, {"op": "build", "name": name, "registry": REGISTRY, "n": n, "message": "b",
                                  "changed": changed})
            if "failed" in a or "failed" in b:
                raise SystemExit(f"quilt3 could not write the {n}-entry manifests: {a} {b}")
            rows.append({"entries": n, "op": "write (quilt3 build)", "ours_s": None, "ours_kib": None,
                         "quilt3_s": round(b["wall_s"], 2), "quilt3_kib": b["peak_rss_kib"]})
            last_dir = f"d/{(n - 1) // 1000:04d}/"
            new = {"new_key": "new/added.csv", "new_uri": "s3://src/new/added.csv"}
            ops = [
                ("browse_first", "package_browse", {"registry": REGISTRY, "package_name": name},
                 {"op": "browse_first"}),
                ("browse_deep", "package_browse", {"registry": REGISTRY, "package_name": name, "prefix": last_dir},
                 {"op": "browse_deep", "prefix": last_dir}),
                ("validate", "package_validate", {"registry": REGISTRY, "package_name": name, "update": True,
                                                  "workflow": "every-entry", "s3_uris": [new["new_uri"]]},
                 {"op": "validate", **new}),
                ("diff", "package_diff", {"registry": REGISTRY, "package1_name": name,
                                          "package1_hash": a["top_hash"], "package2_hash": b["top_hash"]},
                 {"op": "diff", "a": a["top_hash"], "b": b["top_hash"]}),
                # Last: it moves latest. Referenced (copy false) like quilt3's build.
                ("update", "package_update", {"registry": REGISTRY, "package_name": name, "message": "scale",
                                              "s3_uris": [new["new_uri"]], "copy": False, "workflow": None},
                 {"op": "update", "message": "scale", **new}),
            ]
            ours_update = None
            for label, tool, arguments, spec in ops:
                server = Server(procs, args.server, moto_url, token)
                out, wall = server.call(tool, arguments)
                peak = server.close()
                check = {
                    "browse_first": lambda o: len(o["entries"]) == min(n, 1000) and o["total_entries"] == n,
                    "browse_deep": lambda o: len(o["entries"]) == n - (n - 1) // 1000 * 1000,
                    "validate": lambda o: o["valid"] is True,
                    "diff": lambda o: o["modified_count"] == len(changed) and o["added_count"] == 0,
                    "update": lambda o: o["added"] == 1,
                }[label]
                if not check(out):
                    raise SystemExit(f"{label} on {n} entries: unexpected answer {json.dumps(out)[:500]}")
                if label == "update":
                    ours_update = out["top_hash"]
                row = {"entries": n, "op": label, "ours_s": round(wall, 3), "ours_kib": peak}
                if not args.no_quilt3_ops:
                    # quilt3's update starts from latest, which ours just wrote with the same
                    # entry and message: writing the same revision again must give the same
                    # top hash, so equal hashes show both wrote the same manifest.
                    q = quilt3(moto_url, {**spec, "name": name, "registry": REGISTRY})
                    row.update(quilt3_s=round(q["wall_s"], 2) if "wall_s" in q else None,
                               quilt3_kib=q.get("peak_rss_kib"), quilt3_failed=q.get("failed"))
                    if label == "update" and "top_hash" in q:
                        row["same_top_hash"] = q["top_hash"] == ours_update
                rows.append(row)

        summary = {"load_average": loadavg(), "sizes": sizes, "rows": rows}
        os.makedirs(os.path.join(ROOT, "tests/perf/results"), exist_ok=True)
        with open(os.path.join(ROOT, "tests/perf/results/package_scale.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(json.dumps(summary, indent=2))
        print("\n| entries | operation | ours: wall / peak RSS | quilt3: wall / peak RSS |\n|---|---|---|---|")
        for r in rows:
            ours = "—" if r["ours_s"] is None else f"{r['ours_s']} s / {r['ours_kib'] / 1024:.1f} MiB"
            q = r.get("quilt3_failed") or ("—" if r.get("quilt3_s") is None
                                           else f"{r['quilt3_s']} s / {r['quilt3_kib'] / 1024:.0f} MiB")
            if "same_top_hash" in r:
                q += " (same top hash)" if r["same_top_hash"] else " (DIFFERENT top hash)"
            print(f"| {r['entries']:,} | {r['op']} | {ours} | {q} |")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
