#!/usr/bin/env python3
"""Package-creation benchmark (not part of `make test`). Loopback only, bounded, stops by itself.

Starts moto and the server binary on free loopback ports and measures `package_create` of
  1. 1,000 small objects (1 KiB each), and
  2. one 1 GiB object,
each in copy mode (server-side copy into the registry, then the copy hashed while streamed)
and reference mode (objects hashed in place): wall time of the call and the server's peak
RSS (VmHWM of a fresh server process per case). Then the same packages pushed by quilt3
(`Package.set` from the same S3 URIs, `push` to another registry bucket of the same moto;
reference mode = `selector_fn` that copies nothing): wall time of `Package.set` of the S3
URIs plus `push` (the work `package_create` does; quilt3's import not counted), the quilt3
process's peak RSS (VmHWM), the ratios, and whether both top hashes agree. Every package is browsed back with the server to check its entry count.
quilt3's failures are reported, not hidden (moto 5.2.5 omits `ChecksumSHA256` from multipart
answers, which quilt3 needs for objects of 8 MiB and more).

Writes tests/perf/results/packages.json and prints it.

Usage: .venv/bin/python tests/perf/packages.py [--server BIN] [--small N] [--big-mib N] [--no-quilt3]
(default BIN: $CARGO_TARGET_DIR or target/, release/quilt-mcp-server; build it with
`cargo build --release -p quilt-mcp-server`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Processes, free_port, peak_rss_kib, wait_200  # noqa: E402

SECRET = "perf-secret-0123456789abcdefghijklmnop"
MIB = 1024 * 1024

QUILT3_SCRIPT = r"""
import json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/python"))
import quilt3_tool
quilt3_tool._prepare_env(os.environ["MOTO_URL"])
import quilt3
spec = json.loads(os.environ["SPEC"])
built = time.perf_counter()
pkg = quilt3.Package()
for key in spec["keys"]:
    pkg.set(key, f"s3://{spec['bucket']}/{key}")
started = time.perf_counter()
kw = {}
if not spec["copy"]:
    kw["selector_fn"] = lambda logical_key, entry: False
out = {}
try:
    pushed = pkg.push(spec["name"], registry=spec["registry"], force=True, **kw)
    out.update(top_hash=pushed.top_hash, entries=sum(1 for _ in pushed.walk()))
except Exception as e:
    out["failed"] = f"{type(e).__name__}: {e}"[:300]
out["push_wall_s"] = time.perf_counter() - started
out["build_and_push_wall_s"] = time.perf_counter() - built
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
with open("/proc/self/status") as f:
    out["peak_rss_kib"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--server", default=os.path.join(target, "release/quilt-mcp-server"))
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--no-quilt3", action="store_true")
    args = ap.parse_args()

    procs = Processes()
    try:
        moto_port = free_port()
        moto_url = f"http://127.0.0.1:{moto_port}"
        procs.start([os.path.join(ROOT, ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
        wait_200(moto_url + "/moto-api/")
        kw = dict(endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        s3 = boto3.client("s3", **kw)
        for b in ("src", "reg", "reg-q3"):
            s3.create_bucket(Bucket=b)
        small_keys = [f"small/obj-{i:04d}.bin" for i in range(args.small)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket="src", Key=k, Body=os.urandom(1024)), small_keys))
        big_key = "big/one.bin"
        with tempfile.NamedTemporaryFile() as big:
            big.truncate(args.big_mib * MIB)  # sparse: no GiB held by this process
            big.seek(0)
            s3.upload_fileobj(big, "src", big_key,
                              Config=boto3.s3.transfer.TransferConfig(multipart_chunksize=64 * MIB, max_concurrency=4))

        token = subprocess.check_output(
            [args.server, "token", "--subject", "perf", "--audience", "quilt-mcp-perf", "--claims",
             json.dumps({"aws_credentials": {"access_key_id": "AKIAPERFPERFPERF0001", "secret_access_key": "perf-secret-key"}})],
            env={"MCP_JWT_SECRET": SECRET, "PATH": os.environ.get("PATH", "")}).decode().strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}

        cases = [
            ("small_copy", small_keys, True),
            ("small_reference", small_keys, False),
            ("big_copy", [big_key], True),
            ("big_reference", [big_key], False),
        ]
        results = {}
        for name, keys, copy in cases:
            port = free_port()
            env = {"PATH": os.environ.get("PATH", ""), "MCP_LISTEN": f"127.0.0.1:{port}", "MCP_JWT_SECRET": SECRET,
                   "MCP_CREDENTIAL_SOURCES": "jwt", "AWS_ENDPOINT_URL": moto_url, "AWS_REGION": "us-east-1",
                   "MCP_REQUEST_TIMEOUT_S": "3600", "RUST_LOG": "warn", "MCP_JWT_AUDIENCE": "quilt-mcp-perf"}
            server = procs.start([args.server], env=env, guard=False)
            base = f"http://127.0.0.1:{port}"
            wait_200(base + "/readyz")
            client = httpx2.Client(headers=headers, timeout=3600)

            def call(tool, arguments):
                body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": tool, "arguments": arguments}}
                r = client.post(base + "/mcp", json=body)
                r.raise_for_status()
                result = r.json()["result"]
                if result.get("isError"):
                    raise SystemExit(f"{tool} failed: {result['structuredContent']}")
                return result["structuredContent"]

            rss_idle = peak_rss_kib(server.pid)
            started = time.perf_counter()
            out = call("package_create", {"registry": "s3://reg", "package_name": f"perf/{name}",
                                          "s3_uris": [f"s3://src/{k}" for k in keys], "copy": copy, "force": True})
            wall = time.perf_counter() - started
            peak = peak_rss_kib(server.pid)
            browsed = call("package_browse", {"registry": "s3://reg", "package_name": f"perf/{name}", "max_entries": 1})
            assert browsed["total_entries"] == len(keys), browsed
            procs.stop(server)
            client.close()
            results[name] = {"objects": len(keys), "bytes": out["bytes"], "server_wall_s": round(wall, 2),
                             "server_peak_rss_kib": peak, "server_idle_rss_kib": rss_idle,
                             "hashes_from_checksums": out["hashes_from_checksums"], "top_hash": out["top_hash"]}

            if args.no_quilt3:
                continue
            spec = {"bucket": "src", "keys": keys, "copy": copy, "name": f"perf/{name}", "registry": "s3://reg-q3"}
            env = dict(os.environ, ROOT=ROOT, MOTO_URL=moto_url, SPEC=json.dumps(spec))
            started = time.perf_counter()
            p = subprocess.Popen([os.path.join(ROOT, ".venv/bin/python"), "-c", QUILT3_SCRIPT], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            stdout, stderr = p.communicate(timeout=3600)
            total = time.perf_counter() - started
            q = {"process_wall_s": round(total, 2)}
            lines = stdout.decode().strip().splitlines()
            if p.returncode != 0 or not lines:
                q["failed"] = (stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1][:300]
            else:
                pushed = json.loads(lines[-1])
                q["peak_rss_kib"] = pushed["peak_rss_kib"]
                q["push_wall_s"] = round(pushed["push_wall_s"], 2)
                # Package.set of S3 URIs (quilt3 HEADs each) plus push: the work package_create does.
                q["build_and_push_wall_s"] = round(pushed["build_and_push_wall_s"], 2)
                if "failed" in pushed:
                    q["failed"] = pushed["failed"]
                else:
                    q.update(entries=pushed["entries"], same_top_hash=pushed["top_hash"] == out["top_hash"],
                             server_wall_over_quilt3=round(wall / pushed["build_and_push_wall_s"], 3),
                             server_rss_over_quilt3=round(peak / pushed["peak_rss_kib"], 3))
            results[name]["quilt3"] = q

        summary = {"moto": "5.2.x on loopback", "small_object_bytes": 1024, "big_object_bytes": args.big_mib * MIB,
                   "cases": results}
        os.makedirs(os.path.join(ROOT, "tests/perf/results"), exist_ok=True)
        with open(os.path.join(ROOT, "tests/perf/results/packages.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(json.dumps(summary, indent=2))
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
