#!/usr/bin/env python3
"""Bucket-tool perf harness (part of `make bench`). Loopback only, bounded, stops by itself.

Starts moto and the release server binary on free loopback ports, then measures:
  1. bucket_objects_list of 1,000 keys with presigned URLs: latency per call (loopback, the
     server's time dominates) and the server's credential resolutions per call;
  2. bucket_object_text with max_bytes=65536 from a 1 GiB object: the server's RSS before and
     after (a ranged GET: the server never holds the object).
Writes a JSON summary to tests/perf/results/buckets.json and prints it.

Usage: buckets.py SERVER_BINARY
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import httpx2

SERVER = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "perf-secret-0123456789abcdefghijklmnop"
GIB = 1024 * 1024 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait(url, deadline_s=60):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    procs = []
    try:
        moto_port = free_port()
        moto_url = f"http://127.0.0.1:{moto_port}"
        procs.append(subprocess.Popen([os.path.join(ROOT, ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(moto_url + "/moto-api/")
        kw = dict(endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        s3 = boto3.client("s3", **kw)
        s3.create_bucket(Bucket="perf-bucket")
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: s3.put_object(Bucket="perf-bucket", Key=f"keys/obj-{i:04d}.csv", Body=b"x"), range(1000)))
        # A 1 GiB object, uploaded as multipart from a sparse file (no 1 GiB in this process).
        with tempfile.NamedTemporaryFile() as big:
            big.truncate(GIB)
            big.seek(0)
            started = time.time()
            s3.upload_fileobj(big, "perf-bucket", "big/one-gib.txt",
                              Config=boto3.s3.transfer.TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4))
            upload_s = time.time() - started
        roles = boto3.client("iam", **kw)
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
        read_role = roles.create_role(RoleName="PerfRead", AssumeRolePolicyDocument=trust)["Role"]["Arn"]

        port = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "MCP_LISTEN": f"127.0.0.1:{port}", "MCP_JWT_SECRET": SECRET,
               "AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "QUILT_READ_ROLE_ARN": read_role, "RUST_LOG": "warn",
               # One token drives all the load: lift the per-caller share and rate (admission.rs).
               "MCP_CALLER_RATE_PER_S": "0", "MCP_CALLER_MAX_IN_FLIGHT": "256"}
        server = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(server)
        base = f"http://127.0.0.1:{port}"
        wait(base + "/readyz")
        token = subprocess.check_output([SERVER, "token", "--subject", "perf"], env={"MCP_JWT_SECRET": SECRET, "MCP_LISTEN": env["MCP_LISTEN"], "PATH": env["PATH"]}).decode().strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
        client = httpx2.Client(headers=headers, timeout=60)

        def call(name, args):
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": args}}
            r = client.post(base + "/mcp", json=body)
            r.raise_for_status()
            result = r.json()["result"]
            if result.get("isError"):
                raise SystemExit(f"{name} failed: {result}")
            return result["structuredContent"]

        args = {"bucket": "perf-bucket", "prefix": "keys/", "max_keys": 1000, "include_signed_urls": True}
        for _ in range(3):
            call("bucket_objects_list", args)  # warm: role assumed, connections open
        latencies = []
        for _ in range(30):
            started = time.perf_counter()
            out = call("bucket_objects_list", args)
            latencies.append((time.perf_counter() - started) * 1000)
            assert len(out["objects"]) == 1000 and all("signed_url" in o for o in out["objects"])

        plain_args = dict(args, include_signed_urls=False)
        plain = []
        for _ in range(30):
            started = time.perf_counter()
            call("bucket_objects_list", plain_args)
            plain.append((time.perf_counter() - started) * 1000)

        rss_before = rss_kib(server.pid)
        for i in range(50):
            out = call("bucket_object_text", {"s3_uri": "s3://perf-bucket/big/one-gib.txt", "max_bytes": 65536, "offset": i * 1024 * 1024})
            assert out["bytes"] == 65536 and out["truncated"] and out["size"] == GIB, out
        rss_after = rss_kib(server.pid)

        summary = {
            "bucket_objects_list_1000_signed": {
                "calls": len(latencies),
                "p50_ms": round(statistics.median(latencies), 2),
                "p90_ms": round(sorted(latencies)[int(len(latencies) * 0.9) - 1], 2),
                "min_ms": round(min(latencies), 2),
            },
            "bucket_objects_list_1000_unsigned": {
                "calls": len(plain),
                "p50_ms": round(statistics.median(plain), 2),
                "min_ms": round(min(plain), 2),
            },
            "bucket_object_text_1gib_64kib": {
                "object_bytes": GIB,
                "calls": 50,
                "server_rss_kib_before": rss_before,
                "server_rss_kib_after": rss_after,
                "rss_growth_kib": rss_after - rss_before,
            },
            "setup": {"upload_1gib_s": round(upload_s, 1)},
        }
        os.makedirs(os.path.join(ROOT, "tests/perf/results"), exist_ok=True)
        with open(os.path.join(ROOT, "tests/perf/results/buckets.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(json.dumps(summary, indent=2))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
