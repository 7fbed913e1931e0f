"""The policy documents in deploy/iam are scoped (bucket/prefix, workgroup, Glue catalog/
database/table, role ARNs), the data roles trust only the task role and require
sts:SourceIdentity, and the documents say the same as the Terraform module. The checker
refuses broken copies."""

from __future__ import annotations

import copy
import json
import re

import pytest

import model as M

IAM = M.ROOT / "deploy" / "iam"
# Actions AWS does not scope to a resource: "*" is the only valid Resource for them.
UNSCOPABLE = {"ecr:GetAuthorizationToken", "athena:ListWorkGroups", "s3:ListAllMyBuckets"}
SCOPED_ARN = {
    "s3": re.compile(r"^arn:aws:s3:::<[A-Z_]+>(/(<[A-Z_]+>|\.quilt/[a-z_/]*)\*?)?$"),
    "athena": re.compile(r"^arn:aws:athena:<REGION>:<ACCOUNT_ID>:workgroup/<WORKGROUP>$"),
    "glue": re.compile(r"^arn:aws:glue:<REGION>:<ACCOUNT_ID>:(catalog|database/<GLUE_DATABASE>|table/<GLUE_DATABASE>/\*)$"),
}


def load(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def statements(doc: dict) -> list[dict]:
    return M.as_list(doc.get("Statement"))


def policy_problems(doc: dict, name: str) -> list[str]:
    p = []
    if doc.get("Version") != "2012-10-17":
        p.append(f"{name}: Version must be 2012-10-17")
    sids = [s.get("Sid") for s in statements(doc)]
    if None in sids or len(set(sids)) != len(sids):
        p.append(f"{name}: every statement needs a unique Sid")
    for s in statements(doc):
        actions = M.as_list(s.get("Action"))
        resources = M.as_list(s.get("Resource"))
        if s.get("Effect") != "Allow":
            continue
        if "NotAction" in s or "NotResource" in s:
            p.append(f"{name}/{s.get('Sid')}: NotAction/NotResource")
        for a in actions:
            if "*" in a:
                p.append(f"{name}/{s.get('Sid')}: wildcard action {a}")
        for r in resources:
            if r == "*":
                if not set(actions) <= UNSCOPABLE:
                    p.append(f"{name}/{s.get('Sid')}: Resource '*' for scopable actions {sorted(set(actions) - UNSCOPABLE)}")
                continue
            problem = M.arn_wildcard_problem(r) if r.startswith("arn:") else None
            if problem:
                p.append(f"{name}/{s.get('Sid')}: {problem}")
            service = r.split(":")[2] if r.startswith("arn:") else None
            if service in SCOPED_ARN and not SCOPED_ARN[service].match(r):
                p.append(f"{name}/{s.get('Sid')}: {r} is not scoped to a bucket/prefix, workgroup or Glue database")
    return p


def trust_problems(doc: dict, name: str) -> list[str]:
    p = []
    for s in statements(doc):
        principal = s.get("Principal", {})
        aws = M.as_list(principal.get("AWS")) if isinstance(principal, dict) else [principal]
        if aws != ["arn:aws:iam::<ACCOUNT_ID>:role/<NAME>-task"]:
            p.append(f"{name}: trusts {aws}, not only the server's task role")
        actions = set(M.as_list(s.get("Action")))
        if not {"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"} <= actions:
            p.append(f"{name}: must allow sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity, has {sorted(actions)}")
        if s.get("Condition", {}).get("Null", {}).get("sts:SourceIdentity") != "false":
            p.append(f"{name}: does not require sts:SourceIdentity")
    return p


POLICIES = ["execution-role-policy.json", "task-role-policy.json", "read-role-policy.json", "write-role-policy.json"]


@pytest.mark.parametrize("name", POLICIES)
def test_policy_documents_are_scoped(name):
    assert policy_problems(load(name), name) == []


def test_data_roles_trust_only_the_task_role_with_source_identity():
    assert trust_problems(load("data-role-trust-policy.json"), "data-role-trust-policy.json") == []


def test_ecs_trust_is_confused_deputy_safe():
    doc = load("ecs-tasks-trust-policy.json")
    (s,) = statements(doc)
    assert s["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert s["Condition"]["StringEquals"]["aws:SourceAccount"] == "<ACCOUNT_ID>"


def test_write_role_is_the_read_role_plus_writes():
    read = {s["Sid"]: s for s in statements(load("read-role-policy.json"))}
    write = {s["Sid"]: s for s in statements(load("write-role-policy.json"))}
    for sid, s in read.items():
        assert write.get(sid) == s, f"write role lacks or changes read statement {sid}"
    writes = {a for sid, s in write.items() if sid not in read for a in M.as_list(s["Action"])}
    assert "s3:PutObject" in writes and "s3:DeleteObject" in writes
    read_actions = {a for s in read.values() for a in M.as_list(s["Action"])}
    assert not ({"s3:DeleteObject"} & read_actions), "the read role can delete"
    put_resources = [r for s in read.values() if "s3:PutObject" in M.as_list(s["Action"]) for r in M.as_list(s["Resource"])]
    assert all("<ATHENA_RESULTS_BUCKET>" in r for r in put_resources), f"the read role writes outside Athena results: {put_resources}"


def tf_policy_actions(doc_name: str) -> set[str]:
    docs = M.load_tf_dir(M.TF_MODULE)
    doc = dict(M.tf_blocks(docs, "data", "aws_iam_policy_document"))[doc_name]
    sts = list(M.as_list(doc.get("statement")))
    for dyn in M.as_list(doc.get("dynamic")):
        sts += M.as_list(dyn["statement"]["content"])
    return {a for s in sts for a in M.as_list(s.get("actions"))}


@pytest.mark.parametrize("doc,tf_name", [("task-role-policy.json", "task"), ("execution-role-policy.json", "execution")])
def test_documents_match_the_terraform_module(doc, tf_name):
    documented = {a for s in statements(load(doc)) for a in M.as_list(s["Action"])}
    assert documented == tf_policy_actions(tf_name), f"{doc} and the module's {tf_name} policy differ"


def test_execution_role_document_has_the_module_and_templates_statements():
    # Statement for statement (by Sid), so a secret the module reads (the handle key) cannot be
    # missing from the reviewed document, or the reverse; each secret statement names one
    # placeholder per secret ARN, never a pattern.
    documented = {s["Sid"]: s for s in statements(load("execution-role-policy.json"))}
    docs = M.load_tf_dir(M.TF_MODULE)
    doc = dict(M.tf_blocks(docs, "data", "aws_iam_policy_document"))["execution"]
    sts = list(M.as_list(doc.get("statement")))
    for dyn in M.as_list(doc.get("dynamic")):
        sts += M.as_list(dyn["statement"]["content"])
    assert set(documented) == {s["sid"] for s in sts}
    cfn = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    cfn_sids = {
        st.get("Sid")
        for pol in cfn["Resources"]["ExecutionRole"]["Properties"]["Policies"]
        for st in M.cfn_branches(pol["PolicyDocument"]["Statement"])
        if isinstance(st, dict)
    }
    assert set(documented) == cfn_sids
    assert M.as_list(documented["ReadHandleKey"]["Resource"]) == ["<HANDLE_KEY_ARN>"]
    assert M.as_list(documented["ReadHandleKey"]["Action"]) == ["secretsmanager:GetSecretValue"]


def test_task_role_document_allows_only_role_assumption():
    actions = {a for s in statements(load("task-role-policy.json")) for a in M.as_list(s["Action"])}
    assert actions <= M.TASK_ROLE_ACTIONS


# ---- Broken copies -------------------------------------------------------------------------


def broken_policy(kind: str) -> dict:
    doc = copy.deepcopy(load("read-role-policy.json"))
    by_sid = {st["Sid"]: i for i, st in enumerate(statements(doc))}
    s = statements(doc)
    s = {2: s[by_sid["BucketsReadObjects"]], 7: s[by_sid["GlueCatalogRead"]]}
    if kind == "star_resource":
        s[2]["Resource"] = "*"
    elif kind == "bucket_wildcard":
        s[2]["Resource"] = "arn:aws:s3:::*/*"
    elif kind == "unscoped_bucket":
        s[2]["Resource"] = "arn:aws:s3:::<DATA_BUCKET>/*"
    elif kind == "star_action":
        s[2]["Action"] = "s3:*"
    elif kind == "glue_any_database":
        s[7]["Resource"] = ["arn:aws:glue:<REGION>:<ACCOUNT_ID>:database/*"]
    return doc


@pytest.mark.parametrize(
    "kind,phrase",
    [
        ("star_resource", "Resource '*' for scopable actions"),
        ("bucket_wildcard", "not scoped"),
        ("unscoped_bucket", "not scoped"),
        ("star_action", "wildcard action"),
        ("glue_any_database", "not scoped"),
    ],
)
def test_policy_checker_refuses_a_broken_copy(kind, phrase):
    problems = policy_problems(broken_policy(kind), kind)
    assert any(phrase in p for p in problems), f"{kind}: {problems}"


@pytest.mark.parametrize(
    "mutate,phrase",
    [
        (lambda s: s["Condition"].pop("Null"), "does not require sts:SourceIdentity"),
        (lambda s: s.update(Principal={"AWS": "*"}), "not only the server's task role"),
        (lambda s: s.update(Action="sts:AssumeRole"), "must allow"),
    ],
)
def test_trust_checker_refuses_a_broken_copy(mutate, phrase):
    doc = copy.deepcopy(load("data-role-trust-policy.json"))
    mutate(statements(doc)[0])
    problems = trust_problems(doc, "broken")
    assert any(phrase in p for p in problems), problems


# ---- The documents cover what the tools call -----------------------------------------------------
#
# Every AWS operation the server's tools call, found in the source, must be in OPERATIONS (so a
# new call fails here until it is mapped), and its IAM actions must be allowed by the data role
# that serves it: read-intent operations by the read role, all of them by the write role.
# `policy_test.rs` is left out: `s3-policy-test` runs with the operator's own credentials.

SERVER_SRC = M.ROOT / "crates" / "quilt-mcp-server" / "src"
# SDK operation → (IAM actions, intent of the role that serves it)
OPERATIONS = {
    "get_object": ({"s3:GetObject", "s3:GetObjectVersion"}, "read"),
    "head_object": ({"s3:GetObject", "s3:GetObjectVersion"}, "read"),
    "list_objects_v2": ({"s3:ListBucket"}, "read"),
    "list_buckets": ({"s3:ListAllMyBuckets"}, "read"),
    "get_caller_identity": (set(), "read"),
    "put_object": ({"s3:PutObject"}, "write"),
    "copy_object": ({"s3:GetObject", "s3:PutObject"}, "write"),
    "create_multipart_upload": ({"s3:PutObject"}, "write"),
    "upload_part": ({"s3:PutObject"}, "write"),
    "upload_part_copy": ({"s3:GetObject", "s3:PutObject"}, "write"),
    "complete_multipart_upload": ({"s3:PutObject"}, "write"),
    "abort_multipart_upload": ({"s3:AbortMultipartUpload"}, "write"),
    "delete_object": ({"s3:DeleteObject"}, "write"),
    "start_query_execution": ({"athena:StartQueryExecution"}, "read"),
    "get_query_execution": ({"athena:GetQueryExecution"}, "read"),
    "get_query_results": ({"athena:GetQueryResults"}, "read"),
    "stop_query_execution": ({"athena:StopQueryExecution"}, "read"),
    "list_query_executions": ({"athena:ListQueryExecutions"}, "read"),
    "batch_get_query_execution": ({"athena:BatchGetQueryExecution"}, "read"),
    "list_work_groups": ({"athena:ListWorkGroups"}, "read"),
    "get_work_group": ({"athena:GetWorkGroup"}, "read"),
    "get_database": ({"glue:GetDatabase"}, "read"),
    "get_databases": ({"glue:GetDatabases"}, "read"),
    "get_table": ({"glue:GetTable"}, "read"),
    "get_tables": ({"glue:GetTables"}, "read"),
    "get_partitions": ({"glue:GetPartitions"}, "read"),
}
# Every operation name of the SDK clients the tools use (S3, Athena, Glue, STS), as
# `.operation()` calls: found with the crates' own operation lists.
SDK_CRATES = ("aws-sdk-s3", "aws-sdk-athena", "aws-sdk-glue", "aws-sdk-sts")


def sdk_operations() -> set[str]:
    import glob
    import os

    found = set()
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    for crate in SDK_CRATES:
        for path in glob.glob(f"{home}/registry/src/*/{crate}-*/src/operation"):
            found |= {os.path.basename(p) for p in glob.glob(f"{path}/*") if os.path.isdir(p)}
    return found


def called_operations() -> dict[str, set[str]]:
    """operation → the files that call it, from the server's source."""
    known = sdk_operations()
    assert len(known) > 100, "the AWS SDK crates' sources were not found under CARGO_HOME"
    calls: dict[str, set[str]] = {}
    for path in SERVER_SRC.rglob("*.rs"):
        if path.name == "policy_test.rs":
            continue
        for op in re.findall(r"\.([a-z][a-z0-9_]+)\(\)", path.read_text()):
            if op in known:
                calls.setdefault(op, set()).add(str(path.relative_to(M.ROOT)))
    return calls


def role_actions(name: str) -> set[str]:
    return {a for s in statements(load(name)) if s.get("Effect") == "Allow" for a in M.as_list(s["Action"])}


def test_every_aws_operation_the_tools_call_is_mapped():
    calls = called_operations()
    assert {"put_object", "upload_part_copy", "delete_object", "list_objects_v2"} <= set(calls), calls
    unmapped = {op: files for op, files in calls.items() if op not in OPERATIONS}
    assert unmapped == {}, f"map these operations to IAM actions in OPERATIONS: {unmapped}"


def test_the_role_documents_allow_what_the_tools_call():
    read, write = role_actions("read-role-policy.json"), role_actions("write-role-policy.json")
    for op in called_operations():
        actions, intent = OPERATIONS[op]
        assert actions <= write, f"{op}: the write role lacks {sorted(actions - write)}"
        if intent == "read":
            assert actions <= read, f"{op}: the read role lacks {sorted(actions - read)}"


def resources_for(doc: str, action: str) -> set[str]:
    return {r for s in statements(load(doc)) if action in M.as_list(s["Action"]) for r in M.as_list(s["Resource"])}


def test_the_write_role_reaches_every_key_the_write_tools_write_and_no_more():
    # The registry layout comes from quilt-package (the one place that knows it).
    registry_rs = (M.ROOT / "crates" / "quilt-package" / "src" / "registry.rs").read_text()
    prefixes = set(re.findall(r'"(\.quilt/[a-z_]+/)', registry_rs))
    assert prefixes == {".quilt/packages/", ".quilt/named_packages/"}, prefixes
    puts = resources_for("write-role-policy.json", "s3:PutObject")
    for prefix in prefixes:
        assert f"arn:aws:s3:::<REGISTRY_BUCKET>/{prefix}*" in puts, f"package_create cannot write {prefix}"
    # package_create with copy: true copies each entry to <package name>/<logical key>.
    assert "arn:aws:s3:::<REGISTRY_BUCKET>/<PACKAGE_PREFIX>*" in puts
    # The write probe writes and deletes under its prefix only.
    probe = (SERVER_SRC / "permissions" / "probe.rs").read_text()
    assert 'format!(\n        "{prefix}quilt-mcp-write-probe-' in probe or "{prefix}quilt-mcp-write-probe-" in probe
    deletes = resources_for("write-role-policy.json", "s3:DeleteObject")
    assert deletes == {
        "arn:aws:s3:::<REGISTRY_BUCKET>/.quilt/named_packages/*",
        "arn:aws:s3:::<DATA_BUCKET>/<PROBE_PREFIX>*",
    }, f"the write role deletes more than pointers and probes: {deletes}"
    assert "arn:aws:s3:::<DATA_BUCKET>/<PROBE_PREFIX>*" in puts
    # Still scoped: nothing the checker above would refuse.
    assert policy_problems(load("write-role-policy.json"), "write") == []


def test_a_tool_calling_a_new_operation_is_caught(monkeypatch):
    monkeypatch.setitem(OPERATIONS, "put_object", ({"s3:PutObjectLegalHold"}, "write"))
    with pytest.raises(AssertionError, match="PutObjectLegalHold"):
        test_the_role_documents_allow_what_the_tools_call()
