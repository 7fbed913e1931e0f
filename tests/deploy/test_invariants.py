"""The deployment invariants of docs/SECURITY.md hold in both flavours, read from the parsed
files; and each invariant's check refuses a deliberately broken copy (so it can fail)."""

from __future__ import annotations

import json
import re

import pytest

import model as M

FLAVOURS = ["terraform", "cloudformation", "cdk"]


def cfn_or_cdk_template(flavour: str) -> dict:
    """The CloudFormation template, or the CDK flavour's synthesized one (tests/deploy/run.sh)."""
    if flavour == "cdk":
        if not M.CDK_TEMPLATE.exists():
            pytest.fail(f"{M.CDK_TEMPLATE} is missing: tests/deploy/run.sh synthesizes it (make deploy-check)")
        return json.loads(M.CDK_TEMPLATE.read_text())
    return M.load_cfn_text(M.CFN_TEMPLATE.read_text())


def real(flavour: str) -> M.Deployment:
    return M.load_terraform() if flavour == "terraform" else M.load_cloudformation(cfn_or_cdk_template(flavour))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_reference_deployment_keeps_every_invariant(flavour):
    violations = M.check_invariants(real(flavour))
    assert violations == [], "\n".join(violations)


def test_every_terraform_file_parses():
    files = sorted(M.TF_DIR.rglob("*.tf"))
    assert len(files) >= 10, f"expected the module and the example, found {files}"
    for path in files:
        doc = M.load_hcl_text(path.read_text())
        assert doc, f"{path} parsed to nothing"


def test_example_root_uses_the_module_and_sets_the_secret_by_arn():
    docs = M.load_tf_dir(M.TF_DIR / "examples" / "complete")
    module = dict(M.tf_blocks(docs, "module"))["mcp_server"]
    assert module["source"] == "../../modules/mcp_server"
    assert M.strip_interp(module["jwt_secret_arn"]) == "var.jwt_secret_arn"
    # Every input the example passes exists in the module.
    module_vars = dict(M.tf_blocks(M.load_tf_dir(M.TF_MODULE), "variable"))
    unknown = [k for k in module if k not in ("source",) and k not in module_vars]
    assert unknown == [], f"example passes inputs the module lacks: {unknown}"


def test_task_role_assumable_literals_are_role_arns():
    # The ARN literals the Terraform task role's AssumeRole statement can contain, resolved
    # through locals, are IAM role ARNs (not buckets or other resources).
    docs = M.load_tf_dir(M.TF_MODULE)
    loc = M.tf_locals(docs)
    literals = [s for s in M.STRING.findall(loc["assumable_role_arns"] + str(loc["discovered_role_arns"]))]
    arns = [s for s in literals if s.startswith("arn:")]
    assert arns, f"no ARN literals found in {loc['discovered_role_arns']!r}"
    assert all(":role/" in s for s in arns), literals


# ---- Broken copies: each must be refused with a specific violation -----------------------------

TF_MAIN = (M.TF_MODULE / "main.tf").read_text()
TF_ECS = (M.TF_MODULE / "ecs.tf").read_text()
TF_ALB = (M.TF_MODULE / "alb.tf").read_text()
TF_VARS = (M.TF_MODULE / "variables.tf").read_text()
TF_IAM = (M.TF_MODULE / "iam.tf").read_text()


def replaced(text: str, pattern: str, repl: str) -> str:
    """`text` with `pattern` (a regex) replaced; the pattern must match, or the mutation would
    silently test nothing."""
    out, n = re.subn(pattern, repl, text, count=1, flags=re.S)
    assert n == 1, f"mutation pattern {pattern!r} did not match"
    return out


def tf_broken(kind: str) -> M.Deployment:
    if kind == "egress_all":
        return M.load_terraform(
            extra={
                "broken.tf": """
resource "aws_vpc_security_group_egress_rule" "everything" {
  security_group_id = aws_security_group.task.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}
"""
            }
        )
    if kind == "star_resource":
        return M.load_terraform(
            {"main.tf": replaced(TF_MAIN, r"var\.role_claim_allowed_arns\)\)", 'var.role_claim_allowed_arns, ["*"]))')}
        )
    if kind == "star_account":
        return M.load_terraform(
            {"main.tf": replaced(TF_MAIN, r"iam::\$\{local\.account_id\}:role/\$\{var\.quilt_stack_name\}-\*T4BucketReadRole-\*", "iam::*:role/*")}
        )
    if kind == "unvalidated_role_input":
        return M.load_terraform(
            {"variables.tf": replaced(TF_VARS, r'(variable "role_claim_allowed_arns" \{.*?condition\s*=\s*)[^\n]+', r"\1true")}
        )
    if kind == "extra_action":
        return M.load_terraform(
            {"iam.tf": replaced(TF_IAM, r'actions\s*=\s*\["cloudformation:ListStackResources"\]', 'actions = ["cloudformation:ListStackResources", "s3:GetObject"]')}
        )
    if kind == "secret_in_environment":
        return M.load_terraform(
            {"main.tf": replaced(TF_MAIN, r"(environment = \{\n)", r"\1    MCP_JWT_SECRET = var.jwt_secret_arn\n")}
        )
    if kind == "secret_value_in_environment":
        return M.load_terraform(
            {"main.tf": replaced(TF_MAIN, r"(environment = \{\n)", r"\1    JWT_KEY = var.jwt_secret_arn\n")}
        )
    if kind == "handle_key_in_environment":
        main = replaced(TF_MAIN, r"\n\s*MCP_HANDLE_KEY\s*=\s*var\.handle_key_arn", "")
        return M.load_terraform({"main.tf": replaced(main, r"(environment = \{\n)", r"\1    MCP_HANDLE_KEY = var.handle_key_arn\n")})
    if kind == "handle_key_dropped":
        return M.load_terraform({"main.tf": replaced(TF_MAIN, r"\n\s*MCP_HANDLE_KEY\s*=\s*var\.handle_key_arn", "")})
    if kind == "handle_key_grant_missing":
        return M.load_terraform({"iam.tf": replaced(TF_IAM, r'dynamic "statement" \{\s*for_each = var\.handle_key_arn[^}]*\}\s*\}', "")})
    if kind == "handle_key_grant_wildcard":
        return M.load_terraform(
            {"iam.tf": replaced(TF_IAM, r"resources = \[var\.handle_key_arn\]", 'resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:*"]')}
        )
    if kind == "handle_key_grant_suffix":
        return M.load_terraform({"iam.tf": replaced(TF_IAM, r"resources = \[var\.handle_key_arn\]", 'resources = ["${var.handle_key_arn}*"]')})
    if kind == "handle_key_grant_extra":
        return M.load_terraform(
            {"iam.tf": replaced(TF_IAM, r"resources = \[var\.handle_key_arn\]", 'resources = [var.handle_key_arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf"]')}
        )
    if kind == "handle_key_grant_all_actions":
        return M.load_terraform(
            {"iam.tf": replaced(TF_IAM, r'(sid\s*=\s*"ReadHandleKey"\s*actions\s*=\s*)\["secretsmanager:GetSecretValue"\]', r'\1["secretsmanager:*"]')}
        )
    if kind == "no_secrets":
        return M.load_terraform({"ecs.tf": replaced(TF_ECS, r"secrets\s*=\s*\[for[^\n]+", "secrets = []")})
    if kind == "health_path":
        return M.load_terraform({"alb.tf": replaced(TF_ALB, r'path\s*=\s*"/healthz"', 'path = "/"')})
    if kind == "listener_paths":
        return M.load_terraform({"alb.tf": replaced(TF_ALB, r'"/mcp/\*", ', "")})
    if kind == "desired_one":
        v = replaced(TF_VARS, r'(variable "desired_count" \{.*?default\s*=\s*)2', r"\g<1>1")
        v = replaced(v, r"var\.desired_count >= 2", "var.desired_count >= 1")
        return M.load_terraform({"variables.tf": v})
    if kind == "no_rollback":
        return M.load_terraform({"ecs.tf": replaced(TF_ECS, r"rollback\s*=\s*true", "rollback = false")})
    if kind == "one_role":
        return M.load_terraform({"ecs.tf": replaced(TF_ECS, r"task_role_arn\s*=\s*aws_iam_role\.task\.arn", "task_role_arn = aws_iam_role.execution.arn")})
    if kind == "stop_timeout":
        return M.load_terraform({"main.tf": replaced(TF_MAIN, r"stop_timeout_s = var\.shutdown_grace_s \+ 5", "stop_timeout_s = var.shutdown_grace_s")})
    if kind == "public_ip":
        return M.load_terraform({"ecs.tf": replaced(TF_ECS, r"assign_public_ip\s*=\s*false", "assign_public_ip = true")})
    if kind == "writable_root":
        return M.load_terraform({"ecs.tf": replaced(TF_ECS, r"readonlyRootFilesystem\s*=\s*true", "readonlyRootFilesystem = false")})
    raise KeyError(kind)


def cfn_broken(kind: str, flavour: str = "cloudformation") -> M.Deployment:
    t = cfn_or_cdk_template(flavour)
    r = t["Resources"]
    c = r["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    stmts = r["TaskRolePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    if kind == "egress_all":
        r["TaskSecurityGroup"]["Properties"]["SecurityGroupEgress"].append({"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"})
    elif kind == "star_resource":
        stmts[0]["Fn::If"][1]["Resource"].append("*")
    elif kind == "star_account":
        stmts[0]["Fn::If"][1]["Resource"].append({"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/*"})
    elif kind == "unvalidated_role_input":
        t["Parameters"]["RoleClaimAllowedArns"]["AllowedPattern"] = ".*"
    elif kind == "extra_action":
        stmts[2]["Fn::If"][1]["Action"] = ["cloudformation:ListStackResources", "s3:GetObject"]
    elif kind == "secret_in_environment":
        c["Environment"].append({"Name": "MCP_JWT_SECRET", "Value": {"Ref": "JwtSecretArn"}})
    elif kind == "secret_value_in_environment":
        c["Environment"].append({"Name": "JWT_KEY", "Value": {"Ref": "JwtSecretArn"}})
    elif kind in ("handle_key_in_environment", "handle_key_dropped"):
        (entry,) = [e for e in c["Secrets"] if "MCP_HANDLE_KEY" in str(e)]
        c["Secrets"].remove(entry)
        if kind == "handle_key_in_environment":
            c["Environment"].append({"Name": "MCP_HANDLE_KEY", "Value": {"Ref": "HandleKeyArn"}})
    elif kind.startswith("handle_key_grant_"):
        exe = r["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        (st,) = [x for x in exe if "ReadHandleKey" in str(x)]
        body = st["Fn::If"][1]
        if kind == "handle_key_grant_missing":
            exe.remove(st)
        elif kind == "handle_key_grant_wildcard":
            body["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"}
        elif kind == "handle_key_grant_suffix":
            body["Resource"] = {"Fn::Sub": "${HandleKeyArn}*"}
        elif kind == "handle_key_grant_extra":
            body["Resource"] = [{"Ref": "HandleKeyArn"}, "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf"]
        elif kind == "handle_key_grant_all_actions":
            body["Action"] = "secretsmanager:*"
        else:
            raise KeyError(kind)
    elif kind == "no_secrets":
        del c["Secrets"]
    elif kind == "health_path":
        r["TargetGroup"]["Properties"]["HealthCheckPath"] = "/"
    elif kind == "listener_paths":
        r["ListenerRule"]["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"].remove("/mcp/*")
    elif kind == "desired_one":
        t["Parameters"]["DesiredCount"].update({"Default": 1, "MinValue": 1})
    elif kind == "no_rollback":
        r["Service"]["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"]["Rollback"] = False
    elif kind == "one_role":
        r["TaskDefinition"]["Properties"]["TaskRoleArn"] = {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    elif kind == "stop_timeout":
        t["Mappings"]["StopTimeoutFor"]["ShutdownGraceS"]["25"] = 25
    elif kind == "public_ip":
        r["Service"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] = "ENABLED"
    elif kind == "writable_root":
        c["ReadonlyRootFilesystem"] = False
    else:
        raise KeyError(kind)
    return M.load_cloudformation(t)


# broken copy → a phrase the violation must contain
BROKEN = {
    "egress_all": "task egress other than tcp/443",
    "star_resource": "resource is '*'",
    "star_account": "wildcard account",
    "unvalidated_role_input": "does not refuse '*'",
    "extra_action": "actions beyond role assumption",
    "secret_in_environment": "a secret in the container environment: ['MCP_JWT_SECRET']",
    "secret_value_in_environment": "takes its value from a secret's input",
    "handle_key_in_environment": "a secret in the container environment: ['MCP_HANDLE_KEY']",
    "handle_key_dropped": "MCP_HANDLE_KEY is not delivered through the task definition's secrets",
    "handle_key_grant_missing": "the execution role cannot read MCP_HANDLE_KEY's secret",
    "handle_key_grant_wildcard": "reads secrets beyond the container's: other:",
    "handle_key_grant_suffix": "reads secrets beyond the container's: other:",
    "handle_key_grant_extra": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf",
    "handle_key_grant_all_actions": "allows Secrets Manager actions beyond GetSecretValue: ['secretsmanager:*']",
    "no_secrets": "MCP_JWT_SECRET is not delivered through the task definition's secrets",
    "health_path": "not /healthz",
    "listener_paths": "listener paths are",
    "desired_one": "desired count default 1 is below 2",
    "no_rollback": "circuit breaker must be enabled with rollback",
    "one_role": "execution role and task role are the same",
    "stop_timeout": "stopTimeout for grace 25 is 25, want 30",
    "public_ip": "must not get a public IP",
    "writable_root": "root filesystem must be read-only",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_checker_refuses_a_broken_copy(flavour, kind):
    broken = tf_broken(kind) if flavour == "terraform" else cfn_broken(kind, flavour)
    violations = M.check_invariants(broken)
    assert any(BROKEN[kind] in v for v in violations), (
        f"{flavour}/{kind}: expected a violation containing {BROKEN[kind]!r}, got {violations}"
    )


def test_stop_timeout_default_comes_from_the_server_source():
    # The invariant compares against config.rs, not a number written in this test.
    assert M.server_default("MCP_SHUTDOWN_GRACE_S").isdigit()
    assert M.server_default("MCP_LISTEN") == "127.0.0.1:8000"


# ---- Observability: the metric filters watch fields the server really logs ---------------------


def tf_filter_patterns() -> dict[str, str]:
    docs = M.load_tf_dir(M.TF_MODULE)
    return {
        b["metric_transformation"][0]["name"] if isinstance(b["metric_transformation"], list) else b["metric_transformation"]["name"]: b["pattern"].replace('\\"', '"')
        for _, b in M.tf_blocks(docs, "resource", "aws_cloudwatch_log_metric_filter")
    }


def cfn_filter_patterns() -> dict[str, str]:
    t = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    return {
        r["Properties"]["MetricTransformations"][0]["MetricName"]: r["Properties"]["FilterPattern"]
        for r in t["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
    }


def test_metric_filters_are_the_same_in_both_flavours_and_match_the_server_logs():
    tf, cfn = tf_filter_patterns(), cfn_filter_patterns()
    assert tf == cfn, f"metric filters differ: terraform {tf}, cloudformation {cfn}"
    assert set(tf) == {"AuthFailures", "RoleAssumptionFailures", "RoleAssumed"}
    sources = "\n".join(p.read_text() for p in (M.ROOT / "crates").glob("*/src/**/*.rs"))
    for metric, pattern in tf.items():
        terms = re.findall(r'\$\.(\w+)\s*(=|!=)\s*"([^"]+)"', pattern)
        assert terms, f"{metric}: no JSON terms in {pattern!r}"
        for fieldname, op, value in terms:
            if fieldname == "message":
                assert f'"{value}"' in sources, f"{metric}: no log message {value!r} in the server"
            elif fieldname == "reason":
                assert f'=> "{value}"' in sources, f"{metric}: no auth failure label {value!r}"
            else:
                assert re.search(rf'\b{fieldname}\s*=\s*"{re.escape(value)}"', sources), (
                    f"{metric}: the server never logs {fieldname} = {value!r}"
                )


def test_each_alarm_exists_in_both_flavours():
    docs = M.load_tf_dir(M.TF_MODULE)
    tf = {b["alarm_name"].split("}-", 1)[1] for _, b in M.tf_blocks(docs, "resource", "aws_cloudwatch_metric_alarm")}
    t = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    cfn = {
        r["Properties"]["AlarmName"]["Fn::Sub"].split("}-", 1)[1]
        for r in t["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    want = {"target-5xx", "unhealthy-hosts", "auth-failures", "role-assumption-failures", "auth-error-rate", "tool-error-rate"}
    assert tf == want and cfn == want, f"terraform {tf}, cloudformation {cfn}"


def test_terraform_files_are_formatted():
    import os
    import shutil
    import subprocess

    terraform = shutil.which("terraform")
    if not terraform:
        pytest.skip("terraform is not installed: formatting not checked (the files still parse above)")
    env = dict(os.environ, TF_CLI_CONFIG_FILE="/dev/null", CHECKPOINT_DISABLE="1")
    run = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-list=true", str(M.TF_DIR)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert run.returncode == 0, f"terraform fmt would change: {run.stdout}{run.stderr}"


def test_every_alarm_points_at_a_runbook_section():
    runbook = (M.ROOT / "docs" / "OPERATIONS.md").read_text()
    headings = set(re.findall(r"^### (Alarm [\w-]+)$", runbook, re.M))
    docs = M.load_tf_dir(M.TF_MODULE)
    tf = [b["alarm_description"] for _, b in M.tf_blocks(docs, "resource", "aws_cloudwatch_metric_alarm")]
    t = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    cfn = [r["Properties"]["AlarmDescription"] for r in t["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    for description in tf + cfn:
        m = re.search(r"OPERATIONS\.md: (Alarm [\w-]+)", description)
        assert m, f"alarm description names no runbook section: {description!r}"
        assert m.group(1) in headings, f"docs/OPERATIONS.md has no '### {m.group(1)}'"


def test_every_checkov_skip_has_a_reason_and_is_documented():
    security = (M.ROOT / "docs" / "SECURITY.md").read_text()
    skips = []
    for path in list(M.ROOT.joinpath("deploy").rglob("*")) + [M.ROOT / "Dockerfile"]:
        if path.is_file() and path.suffix in (".tf", ".yaml", ".yml", ".json", ""):
            for line in path.read_text().splitlines():
                m = re.search(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?", line)
                if m:
                    skips.append((path.name, m.group(1), (m.group(2) or "").strip()))
    for name, check, reason in skips:
        assert len(reason) >= 20, f"{name}: checkov skip {check} has no real reason"
        assert f"`{check}`" in security, f"{name}: checkov skip {check} is not listed in docs/SECURITY.md"
    assert skips, "no skips found: if none are needed any more, delete this test and the SECURITY.md table"
