"""The "beside a Quilt stack" example works for the tokens a Quilt catalog issues.

The container environment is computed from the CloudFormation template with the example's
parameters (deploy/examples/beside-quilt.json, which the CDK example stack uses too), the way
CloudFormation would; the built server binary then runs with exactly that environment (plus
what ECS would add: the secret's value, and a loopback address for the test). A catalog-shaped
token — HS256 with the catalog's secret, an `id` claim and no `sub`, no `scope` — must see the
data tools in `tools/list`, and the server's metric lines (EMF) must appear on stderr for the
authentication and the tool call.

The Terraform example (deploy/terraform/examples/beside-quilt) passes the module's rules with its
tfvars and says the same as the CloudFormation/CDK example."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import jwt
import pytest

import model as M
from test_cdk import EXAMPLE, container_environment, example
from test_runtime import TARGET, binary

SECRET = "catalog-signing-secret-for-tests-0123456789abcdef"
TF_EXAMPLE = M.TF_DIR / "examples" / "beside-quilt"
DATA_TOOLS = {"bucket_objects_list", "bucket_object_text", "package_browse", "package_create", "athena_query_execute"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catalog_token(**extra) -> str:
    """What a Quilt catalog signs: its user id as `id` (no `sub`), no scope claim."""
    now = int(time.time())
    claims = {"id": "8d0e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "uuid": "8d0e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "exp": now + 600, "iat": now}
    claims.update(extra)
    return jwt.encode(claims, SECRET, algorithm="HS256")


def rpc(url: str, token: str, method: str, params: dict | None = None) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2025-11-25",
            "authorization": f"Bearer {token}",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])


@pytest.fixture
def server_under_the_example(tmp_path):
    exe = binary()
    if exe is None:
        pytest.fail(f"no quilt-mcp-server under {TARGET}: run `make build` first (make test does)")
    env = container_environment(M.load_cfn_text(M.CFN_TEMPLATE.read_text()), example())
    port = free_port()
    env.update(
        # What ECS adds: the secret from Secrets Manager (the catalog's signing secret).
        MCP_JWT_SECRET=SECRET,
        # The test's own: loopback, and an AWS endpoint that refuses at once (stack discovery
        # fails fast; no AWS here), with a throwaway identity.
        MCP_LISTEN=f"127.0.0.1:{port}",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        AWS_ACCESS_KEY_ID="AKIATESTTESTTESTTEST",
        AWS_SECRET_ACCESS_KEY="test-only",
        PATH=os.environ.get("PATH", ""),
    )
    stderr = tmp_path / "stderr.log"
    with open(stderr, "w") as err:
        proc = subprocess.Popen([exe, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            assert proc.poll() is None, f"the server exited: {stderr.read_text()[-3000:]}"
            assert time.time() < deadline, f"the server did not become ready: {stderr.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url, env, stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def emf_lines(stderr) -> list[dict]:
    out = []
    for line in stderr.read_text().splitlines():
        try:
            v = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(v, dict) and "_aws" in v:
            out.append(v)
    return out


def test_a_catalog_token_sees_the_data_tools_under_the_quilt_example(server_under_the_example):
    url, env, stderr = server_under_the_example
    assert env["MCP_REQUIRE_SCOPES"] == "false" and env["MCP_CREDENTIAL_SOURCES"] == "catalog,stack_roles"
    listed = rpc(f"{url}/mcp", catalog_token(), "tools/list")
    names = {t["name"] for t in listed["result"]["tools"]}
    assert DATA_TOOLS <= names, f"a catalog token sees only {sorted(names)}"

    status = rpc(f"{url}/mcp", catalog_token(), "tools/call", {"name": "auth_status", "arguments": {}})
    sc = status["result"]["structuredContent"]
    assert "8d0e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b" in json.dumps(sc), f"the `id` claim is not the subject: {sc}"

    # A token signed with another key is refused: the catalog's secret is what decides.
    forged = jwt.encode({"id": "mallory", "exp": int(time.time()) + 600}, "not-the-catalog-secret-0123456789abcdef", algorithm="HS256")
    with pytest.raises(urllib.error.HTTPError) as refused:
        rpc(f"{url}/mcp", forged, "tools/list")
    assert refused.value.code == 401

    # The metric lines: one per authentication outcome, one per tool call, in EMF.
    deadline = time.time() + 5
    while time.time() < deadline and len(emf_lines(stderr)) < 4:
        time.sleep(0.1)
    lines = emf_lines(stderr)
    namespace = f"QuiltMcp/{example()['Name']}"
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == namespace, line
        assert isinstance(line["_aws"]["Timestamp"], int), line
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], (int, float)), f"{metric['Name']} has no value: {line}"
        for dims in directive["Dimensions"]:
            assert all(d in line for d in dims), f"dimension without a value: {line}"
    auth = [x for x in lines if x.get("event") == "auth"]
    assert [x["outcome"] for x in auth].count("success") == 2, auth  # tools/list, tools/call
    failure = [x for x in auth if x["outcome"] == "failure"]
    assert len(failure) == 1 and failure[0]["AuthFailure"] == 1 and failure[0]["reason"] == "bad_signature", failure
    # Authentication now precedes admission (per-caller shares need the caller), so the request
    # being authenticated is not yet counted: in-flight is whatever else runs, here nothing.
    assert all(isinstance(x["InFlight"], int) and x["InFlight"] >= 0 for x in auth), auth
    tools = [x for x in lines if x.get("event") == "tool_metrics"]
    assert len(tools) == 1, tools
    (call,) = tools
    assert (call["Tool"], call["outcome"], call["ToolCalls"], call["ToolErrors"]) == ("auth_status", "ok", 1, 0), call
    assert call["ToolLatency"] == call["duration_ms"] >= 0
    assert SECRET not in stderr.read_text()


def test_the_same_server_with_scopes_on_shows_a_catalog_token_only_auth_status(server_under_the_example):
    # Why the example turns scope checks off: the control, with the default (on), through the
    # server's own flag on the same binary.
    url, env, _ = server_under_the_example
    exe = binary()
    port = free_port()
    env = dict(env, MCP_LISTEN=f"127.0.0.1:{port}", MCP_REQUIRE_SCOPES="true")
    proc = subprocess.Popen([exe, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                assert time.time() < deadline and proc.poll() is None
                time.sleep(0.2)
        listed = rpc(f"http://127.0.0.1:{port}/mcp", catalog_token(), "tools/list")
        names = {t["name"] for t in listed["result"]["tools"]}
        assert not (DATA_TOOLS & names), f"with scopes on, a scope-less token still sees {sorted(names)}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---- The Terraform example --------------------------------------------------------------------------


def tfvars(path) -> dict:
    return M.load_hcl_text(path.read_text())


def test_terraform_example_passes_the_module_rules_and_matches_the_other_flavours():
    docs = M.load_tf_dir(TF_EXAMPLE)
    module = dict(M.tf_blocks(docs, "module"))["mcp_server"]
    values = tfvars(TF_EXAMPLE / "terraform.tfvars.example")
    inputs = {}
    for name, expr in module.items():
        if name == "source":
            continue
        ref = M.strip_interp(expr)
        if isinstance(ref, str) and ref.startswith("var."):
            inputs[name] = values.get(ref[4:], dict(M.tf_blocks(docs, "variable"))[ref[4:]].get("default"))
        else:
            inputs[name] = expr
    module_docs = M.load_tf_dir(M.TF_MODULE)
    assert M.tf_refusals(module_docs, inputs) == []
    assert inputs["credential_sources"] == ["catalog", "stack_roles"] and inputs["require_scopes"] is False
    # The same stack, registry, catalog and buckets as the CloudFormation/CDK example.
    cfn = example()
    assert inputs["quilt_stack_name"] == cfn["QuiltStackName"]
    assert inputs["registry_url"] == cfn["RegistryUrl"] and inputs["catalog_url"] == cfn["CatalogUrl"]
    assert ",".join(inputs["buckets"]) == cfn["Buckets"]
    assert inputs["jwt_secret_arn"] == cfn["JwtSecretArn"]
    # Scopes on with catalog tokens and no map is refused at plan time.
    errors = M.tf_refusals(module_docs, dict(inputs, require_scopes=True))
    assert any("scope" in e for e in errors), errors
    assert re.search(r"Quilt", EXAMPLE.read_text())


@pytest.mark.parametrize("namespace", ["AWS/ECS", "QuiltMcp/{name}", ""])
def test_a_bad_metrics_namespace_stops_the_server_naming_the_setting(namespace):
    exe = binary()
    if exe is None:
        pytest.fail(f"no quilt-mcp-server under {TARGET}: run `make build` first (make test does)")
    env = {"MCP_JWT_SECRET": SECRET, "MCP_LISTEN": f"127.0.0.1:{free_port()}", "MCP_METRICS_NAMESPACE": namespace}
    out = subprocess.run([exe, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, f"the server started with MCP_METRICS_NAMESPACE={namespace!r}"
    assert "MCP_METRICS_NAMESPACE" in out.stderr, out.stderr
