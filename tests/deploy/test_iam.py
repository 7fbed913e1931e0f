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
UNSCOPABLE = {"ecr:GetAuthorizationToken", "athena:ListWorkGroups"}
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


def test_task_role_document_allows_only_role_assumption():
    actions = {a for s in statements(load("task-role-policy.json")) for a in M.as_list(s["Action"])}
    assert actions <= M.TASK_ROLE_ACTIONS


# ---- Broken copies -------------------------------------------------------------------------


def broken_policy(kind: str) -> dict:
    doc = copy.deepcopy(load("read-role-policy.json"))
    s = statements(doc)
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
