"""The binary runs the way the image and the task definition run it: as uid 65532 on a
read-only root filesystem, with the container's settings (MCP_LISTEN on all addresses, JSON
logs); `/healthz` answers, the `healthcheck` subcommand (the image's HEALTHCHECK and the task
definition's healthCheck) exits 0, and SIGTERM ends it cleanly within the grace.

No Docker here: a private mount namespace (`unshare --mount`) with / remounted read-only
stands in for the container's read-only root, and `setpriv` for its USER. Needs root (CI and
the development machines run as root) and the server binary from `make build`; otherwise the
test skips and says why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

import model as M

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "quilt-mcp" / "target"))
SECRET = "deploy-test-only-secret-0123456789abcdef"


def binary() -> Path | None:
    for profile in ("debug", "release"):
        path = TARGET / profile / "quilt-mcp-server"
        if path.exists():
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_runs_non_root_on_a_read_only_root_filesystem():
    exe = binary()
    if exe is None:
        pytest.skip(f"no quilt-mcp-server under {TARGET} (run `make build` first)")
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        pytest.skip("needs root with unshare and setpriv to emulate the container")
    port = free_port()
    mnt = tempfile.mkdtemp(prefix="quilt-mcp-ro-")
    os.chmod(mnt, 0o755)
    # In a private mount namespace: the binary bind-mounted read-only at a path uid 65532 can
    # reach (the cargo target dir may sit under /root), then / remounted read-only. The
    # container's environment: MCP_LISTEN on every address as in the image, JSON logs, the
    # secret as ECS injects it.
    exe_in = f"{mnt}/quilt-mcp-server"
    script = (
        "set -e; mount --make-rprivate /; "
        f"mount -t tmpfs -o size=1m,mode=755 tmpfs {mnt}; touch {exe_in}; "
        f"mount --bind {exe} {exe_in}; mount -o remount,bind,ro {exe_in}; "
        f"mount -o remount,ro {mnt}; mount -o remount,bind,ro /; "
        "if touch /.rw-probe 2>/dev/null; then echo 'root fs is writable' >&2; exit 97; fi; "
        f"exec setpriv --reuid 65532 --regid 65532 --clear-groups env -i "
        f"MCP_LISTEN=0.0.0.0:{port} MCP_LOG_FORMAT=json MCP_JWT_SECRET={SECRET} "
        f"MCP_SHUTDOWN_GRACE_S={M.server_default('MCP_SHUTDOWN_GRACE_S')} HOME=/nonexistent {exe_in} serve"
    )
    proc = subprocess.Popen(
        ["unshare", "--mount", "--fork", "sh", "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        health = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    health = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.2)
        assert health is not None, f"server did not answer /healthz (exit {proc.poll()}): {proc.stderr.read() if proc.poll() is not None else ''}"
        assert health["status"] in ("ok", "degraded"), health
        check = subprocess.run(
            [str(exe), "healthcheck"],
            env={"MCP_LISTEN": f"0.0.0.0:{port}", "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=10,
        )
        assert check.returncode == 0, f"healthcheck failed: {check.stderr}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        os.rmdir(mnt)  # the tmpfs lived only in the namespace
    assert proc.returncode == 0, f"server did not stop cleanly on SIGTERM (exit {proc.returncode}): {err[-2000:]}"
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines, f"no JSON log lines: {err[-2000:]}"
    assert any(line.get("message") == "stopped" for line in lines), "no clean stop logged"
    assert SECRET not in err, "the JWT secret reached the logs"
