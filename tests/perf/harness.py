"""Shared parts of the perf harness (`tests/perf/bench.py`): processes that are always
stopped, loopback stand-ins (the catalog's credential exchange, a JWKS endpoint), the load
generator (oha) and small measurement helpers.

Everything listens on 127.0.0.1 only. Every process the harness starts is registered in a
`Processes` set that stops it on exit, on an exception, on SIGINT/SIGTERM/SIGHUP, and —
through the parent-death signal (`setpriv --pdeathsig KILL`) — even if the harness itself is
killed with SIGKILL.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_status(url, timeout=1.0, headers=None):
    """Status of a GET, or None when nothing answered."""
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def wait_200(url, deadline_s=60, proc=None):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if http_status(url) == 200:
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        time.sleep(0.05)
    raise RuntimeError(f"{url} never answered 200 within {deadline_s} s")


def _tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def _status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid):
    """Resident set of a process and its descendants (KiB)."""
    return sum(_status_kib(p, "VmRSS") for p in _tree(pid))


def cpu_s(pid):
    """CPU time (user + system) used so far by a process and its descendants, in seconds."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid):
    return sum(_status_kib(p, "VmHWM") for p in _tree(pid))


class Processes:
    """The processes this run started; all of them are stopped by `stop_all`."""

    def __init__(self):
        self.procs = []
        self.pdeathsig = shutil.which("setpriv")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    def start(self, argv, env=None, log=None, guard=True):
        """Starts argv. `guard` wraps it so the kernel kills it if the harness dies; start-up
        timings pass guard=False so the wrapper's exec is not counted (those processes are
        stopped right after the measurement)."""
        if guard and self.pdeathsig:
            argv = [self.pdeathsig, "--pdeathsig", "KILL", "--"] + list(argv)
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        if log:
            out.close()
        self.procs.append(p)
        return p

    def stop(self, p, timeout=10):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            self.stop(p)


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class CatalogStandIn(_Server):
    """The catalog's `GET /api/auth/get_credentials`, on loopback: checks the caller's HS256
    token (as the real registry does) and answers the temporary credentials `credentials`
    (made in moto by the harness), in the catalog's own shape. Also serves `/config.json`
    (`registryUrl` = itself) for clients that discover the registry from the catalog."""

    def __init__(self, secret, credentials):
        import jwt as pyjwt

        outer = self
        self.exchanges = 0
        self.refused = 0
        self.busy_s = 0.0  # time spent answering exchanges: shows the stand-in is not the bottleneck
        lock = threading.Lock()

        class Handler(_Quiet):
            def do_GET(self):
                if self.path == "/config.json":
                    return self.answer(200, {"registryUrl": outer.url})
                if self.path.split("?")[0] != "/api/auth/get_credentials":
                    return self.answer(404, {"message": "not found"})
                started = time.perf_counter()
                auth = self.headers.get("Authorization", "")
                try:
                    if not auth.startswith("Bearer "):
                        raise ValueError("no bearer")
                    pyjwt.decode(auth[7:], secret, algorithms=["HS256"], options={"verify_aud": False})
                except Exception:
                    with lock:
                        outer.refused += 1
                    return self.answer(401, {"message": "Invalid token"})
                self.answer(200, credentials)
                with lock:
                    outer.exchanges += 1
                    outer.busy_s += time.perf_counter() - started

        super().__init__(Handler)


class JwksStandIn(_Server):
    """An identity provider's JWKS on loopback: one RSA-2048 key; mints RS256 tokens."""

    def __init__(self, kid="perf-rs256"):
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()

        def b64(n):
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        jwks = {"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)}]}
        outer = self
        self.fetches = 0

        class Handler(_Quiet):
            def do_GET(self):
                if self.path != "/jwks.json":
                    return self.answer(404, {"message": "not found"})
                outer.fetches += 1
                return self.answer(200, jwks)

        super().__init__(Handler)
        self.jwks_url = self.url + "/jwks.json"

    def token(self, claims):
        import jwt as pyjwt

        return pyjwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


class Oha:
    """The load generator. Every run is bounded — by `-z` (a duration) or `-n` (a count of
    requests) and a hard time limit — and sends to loopback only."""

    def __init__(self, path):
        self.path = path
        self.version = subprocess.check_output([path, "--version"], text=True).strip()

    def run(self, url, body, headers, *, connections, duration_s=None, requests=None, rate=None, timeout_s=None, server_pid=None):
        """POSTs `body` (GETs when it is None) and summarises oha's JSON report; with
        `server_pid`, also the server's CPU time per request."""
        assert url.startswith("http://127.0.0.1:"), url
        assert (duration_s is None) != (requests is None)
        # -w: requests in flight at the deadline finish and count (not reported as errors).
        bound = ["-z", f"{duration_s}s", "-w"] if duration_s is not None else ["-n", str(requests)]
        argv = [self.path, "--no-tui", "--output-format", "json", *bound, "-c", str(connections)]
        argv += ["-m", "GET"] if body is None else ["-m", "POST", "-d", body]
        for k, v in headers.items():
            argv += ["-H", f"{k}: {v}"]
        if rate is not None:
            argv += ["-q", str(rate), "--latency-correction"]
        argv.append(url)
        cpu_before = cpu_s(server_pid) if server_pid else None
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s or duration_s + 60)
        if out.returncode != 0:
            raise RuntimeError(f"oha failed ({out.returncode}): {out.stderr[-2000:]}")
        summary = summarize_oha(json.loads(out.stdout))
        if server_pid and summary["requests"]:
            summary["server_cpu_us_per_request"] = round((cpu_s(server_pid) - cpu_before) * 1e6 / summary["requests"], 1)
        return summary


def summarize_oha(raw):
    s = raw["summary"]
    pct = raw.get("latencyPercentiles", {})
    codes = raw.get("statusCodeDistribution", {})
    errors = raw.get("errorDistribution", {})

    def ms(v):
        return None if v is None else round(v * 1000, 3)

    total = sum(codes.values())
    return {
        "requests": total,
        "req_per_s": sig(s.get("requestsPerSec") or 0),
        "ok_200": codes.get("200", 0),
        "status_codes": codes,
        "errors": errors,
        "p50_ms": ms(pct.get("p50")),
        "p90_ms": ms(pct.get("p90")),
        "p99_ms": ms(pct.get("p99")),
        "max_ms": ms(s.get("slowest")),
        "mean_ms": ms(s.get("average")),
    }


def sig(v, digits=4):
    """`v` rounded to `digits` significant digits (a rate of one call in minutes stays non-zero)."""
    return float(f"{v:.{digits}g}")


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
