"""The CDK flavour (deploy/cdk) synthesizes the same template as deploy/cloudformation: the same
parameters (names, types, defaults, patterns), rules, conditions, mapping, resources (logical id,
type and properties) and outputs. tests/deploy/run.sh runs `cdk synth` (offline) before pytest;
cfn-lint and checkov check the synthesized templates like the CloudFormation one.

The example stack QuiltMcpServerBesideQuilt is the same template with the parameter defaults of
deploy/examples/beside-quilt.json."""

from __future__ import annotations

import copy
import json

import pytest

import model as M

EXAMPLE = M.ROOT / "deploy" / "examples" / "beside-quilt.json"
CDK_EXAMPLE = M.CDK_TEMPLATE.with_name("QuiltMcpServerBesideQuilt.template.json")
PARAMETER_KEYS = ("Type", "Default", "AllowedPattern", "AllowedValues", "MinValue", "MaxValue")


def load(path):
    if not path.exists():
        pytest.fail(f"{path} is missing: tests/deploy/run.sh synthesizes it (make deploy-check)")
    return json.loads(path.read_text())


def cfn() -> dict:
    return M.load_cfn_text(M.CFN_TEMPLATE.read_text())


def norm(value):
    """Scalars as strings (YAML reads 60 where CDK writes "60" and the reverse mean the same to
    CloudFormation), containers recursively; DependsOn always a list."""
    if isinstance(value, dict):
        return {k: norm([v] if k == "DependsOn" and isinstance(v, str) else v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def differences(a: dict, b: dict, what: str) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        if key not in a:
            out.append(f"{what}.{key}: only in CDK")
        elif key not in b:
            out.append(f"{what}.{key}: only in CloudFormation")
        elif norm(a[key]) != norm(b[key]):
            out.append(f"{what}.{key}: CloudFormation {json.dumps(norm(a[key]))[:300]} != CDK {json.dumps(norm(b[key]))[:300]}")
    return out


def parity_problems(t: dict, c: dict) -> list[str]:
    p = []
    pick = lambda params: {n: {k: v for k, v in spec.items() if k in PARAMETER_KEYS} for n, spec in params.items()}  # noqa: E731
    p += differences(pick(t["Parameters"]), pick(c["Parameters"]), "Parameters")
    for section in ("Rules", "Conditions", "Mappings"):
        p += differences(t.get(section, {}), c.get(section, {}), section)
    p += differences(t["Resources"], c["Resources"], "Resources")
    if set(t.get("Outputs", {})) != set(c.get("Outputs", {})):
        p.append(f"Outputs differ: {sorted(set(t['Outputs']) ^ set(c['Outputs']))}")
    return p


def test_cdk_template_has_the_cloudformation_parameters_rules_and_resources():
    problems = parity_problems(cfn(), load(M.CDK_TEMPLATE))
    assert problems == [], "\n".join(problems)


def test_parity_check_notices_a_difference():
    c = load(M.CDK_TEMPLATE)
    broken = copy.deepcopy(c)
    broken["Parameters"]["Buckets"]["AllowedPattern"] = ".*"
    del broken["Rules"]["StackRolesNeedRoles"]
    broken["Resources"]["TaskSecurityGroup"]["Properties"]["SecurityGroupEgress"][0]["ToPort"] = 65535
    broken["Resources"]["Extra"] = {"Type": "AWS::S3::Bucket"}
    problems = parity_problems(cfn(), broken)
    for phrase in ("Parameters.Buckets", "Rules.StackRolesNeedRoles", "Resources.TaskSecurityGroup", "Resources.Extra: only in CDK"):
        assert any(phrase in p for p in problems), f"{phrase} not reported: {problems}"


def test_cdk_keeps_every_invariant_and_refuses_the_same_inputs():
    from test_inputs import SCENARIOS, cfn_inputs, check, inputs

    c = load(M.CDK_TEMPLATE)
    assert M.check_invariants(M.cfn_model(c)) == []
    for name, (changes, expect) in SCENARIOS.items():
        check(M.cfn_refusals(c, cfn_inputs(inputs(changes))), expect, f"cdk/{name}")


# ---- The "beside a Quilt stack" example ------------------------------------------------------------


def example() -> dict[str, str]:
    return json.loads(EXAMPLE.read_text())["Parameters"]


def test_the_cdk_example_is_the_stack_with_the_example_defaults():
    main, ex = load(M.CDK_TEMPLATE), load(CDK_EXAMPLE)
    for name, value in example().items():
        assert str(ex["Parameters"][name].get("Default")) == value, name
    stripped = lambda t: {k: v for k, v in t.items() if k != "Parameters"}  # noqa: E731
    assert stripped(main) == stripped(ex), "the example stack differs from the reference stack beyond its defaults"


@pytest.mark.parametrize("flavour", ["cloudformation", "cdk"])
def test_the_example_is_accepted_and_sets_the_quilt_settings(flavour):
    t = cfn() if flavour == "cloudformation" else load(CDK_EXAMPLE)
    values = example() if flavour == "cloudformation" else {}
    assert M.cfn_refusals(t, values) == []
    env = container_environment(t, values)
    assert env["MCP_CREDENTIAL_SOURCES"] == "catalog,stack_roles"
    assert env["MCP_REQUIRE_SCOPES"] == "false"
    assert env["MCP_JWT_ALLOW_MISSING_AUD"] == "true", "catalog tokens have no aud claim"
    assert env["QUILT_STACK_NAME"] == "quilt-prod"
    assert env["QUILT_CATALOG_URL"].startswith("https://")
    assert "MCP_JWT_SECRET" not in env, "the catalog's secret must come through Secrets"


def test_the_example_with_scopes_on_and_no_map_is_refused():
    values = dict(example(), RequireScopes="true")
    errors = M.cfn_refusals(cfn(), values)
    assert any("scope" in e.lower() for e in errors), errors


# ---- Evaluating the container's environment for given parameter values -------------------------


def evaluate(expr, t: dict, values: dict[str, str]):
    """The value CloudFormation would compute for `expr` (the functions the container's
    Environment uses); AWS::NoValue is None."""
    params = {n: values.get(n, str(p.get("Default", ""))) for n, p in t["Parameters"].items()}
    pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::NoValue": None}

    def cond(name):
        return ev(t["Conditions"][name])

    def ev(e):
        if isinstance(e, list):
            return [ev(x) for x in e]
        if not isinstance(e, dict):
            return e
        if len(e) != 1 or not (next(iter(e)) in ("Ref", "Condition") or next(iter(e)).startswith("Fn::")):
            return {k: ev(v) for k, v in e.items()}
        (fn, arg), = e.items()
        if fn == "Ref":
            return pseudo[arg] if arg in pseudo else params[arg]
        if fn == "Condition":
            return cond(arg)
        if fn == "Fn::If":
            return ev(arg[1]) if cond(arg[0]) else ev(arg[2])
        if fn == "Fn::Equals":
            return str(ev(arg[0])) == str(ev(arg[1]))
        if fn == "Fn::Not":
            return not ev(arg[0])
        if fn == "Fn::And":
            return all(ev(x) for x in arg)
        if fn == "Fn::Or":
            return any(ev(x) for x in arg)
        if fn == "Fn::Join":
            parts = ev(arg[1])
            parts = parts.split(",") if isinstance(parts, str) else parts
            return arg[0].join(str(x) for x in parts)
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return __import__("re").sub(r"\$\{([\w:]+)\}", lambda m: str(ev({"Ref": m.group(1)})), text)
        if fn == "Fn::FindInMap":
            m, a, b = (ev(x) for x in arg)
            return t["Mappings"][m][str(a)][str(b)]
        raise ValueError(f"unsupported {fn}")

    return ev(expr)


def container_environment(t: dict, values: dict[str, str]) -> dict[str, str]:
    (c,) = [
        c
        for r in t["Resources"].values()
        if r["Type"] == "AWS::ECS::TaskDefinition"
        for c in r["Properties"]["ContainerDefinitions"]
    ]
    out = {}
    for entry in c["Environment"]:
        e = evaluate(entry, t, values)
        if e is None:
            continue
        out[e["Name"]] = str(evaluate(e["Value"], t, values))
    return out


# ---- The handle key: a task definition secret, read by the execution role on its ARN only -------

HANDLE_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/handle-key-GhIjKl"
JWT_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/jwt-AbCdEf"
REQUIRED = {
    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/quilt-mcp-server:0.1.0",
    "VpcId": "vpc-0123456789abcdef0",
    "PrivateSubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "AlbListenerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/quilt-alb/0123456789abcdef/0123456789abcdef",
    "AlbSecurityGroupId": "sg-0123456789abcdef0",
    "PublicUrl": "https://mcp.example.com",
    "ReadRoleArn": "arn:aws:iam::123456789012:role/quilt-prod-T4BucketReadRole-ABC123",
    "Buckets": "quilt-example-data",
}


def container_secrets(t: dict, values: dict[str, str]) -> dict[str, str]:
    (c,) = [c for r in t["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition" for c in r["Properties"]["ContainerDefinitions"]]
    out = {}
    for entry in c.get("Secrets", []):
        e = evaluate(entry, t, values)
        if e is not None:
            out[e["Name"]] = evaluate(e["ValueFrom"], t, values)
    return out


def secrets_the_execution_role_reads(t: dict, values: dict[str, str]) -> list[str]:
    """Every resource of the execution role's statements that allow a Secrets Manager action,
    as CloudFormation would compute them for `values` (statements left out by their condition
    are not there)."""
    role = t["Resources"][t["Resources"]["TaskDefinition"]["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]]
    out = []
    for pol in role["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            if set(st) == {"Fn::If"}:
                name, yes, no = st["Fn::If"]
                st = yes if evaluate({"Condition": name}, t, values) else no
            if not isinstance(st, dict) or "Action" not in st:
                continue
            if any(str(a).startswith("secretsmanager:") or a == "*" for a in M.as_list(st["Action"])):
                out += [r for r in M.as_list(evaluate(st["Resource"], t, values)) if r is not None]
    return out


HANDLE_KEY_CASES = {
    # name: (parameter values, the secrets the container gets, what the execution role may read)
    "jwks_with_handle_key": (
        {"JwtJwksUrl": "https://auth.example.com/.well-known/jwks.json", "HandleKeyArn": HANDLE_KEY_ARN},
        {"MCP_HANDLE_KEY": HANDLE_KEY_ARN},
        [HANDLE_KEY_ARN],
    ),
    "secret_and_handle_key": (
        {"JwtSecretArn": JWT_ARN, "HandleKeyArn": HANDLE_KEY_ARN},
        {"MCP_JWT_SECRET": JWT_ARN, "MCP_HANDLE_KEY": HANDLE_KEY_ARN},
        [JWT_ARN, HANDLE_KEY_ARN],
    ),
    "secret_only": ({"JwtSecretArn": JWT_ARN}, {"MCP_JWT_SECRET": JWT_ARN}, [JWT_ARN]),
}


@pytest.mark.parametrize("case", sorted(HANDLE_KEY_CASES))
@pytest.mark.parametrize("flavour", ["cloudformation", "cdk"])
def test_the_handle_key_is_a_task_definition_secret_and_the_execution_role_reads_only_its_arn(flavour, case):
    t = cfn() if flavour == "cloudformation" else load(M.CDK_TEMPLATE)
    changes, want_secrets, want_reads = HANDLE_KEY_CASES[case]
    values = dict(REQUIRED, **changes)
    assert M.cfn_refusals(t, values) == []
    assert container_secrets(t, values) == want_secrets
    env = container_environment(t, values)
    assert not {"MCP_HANDLE_KEY", "MCP_JWT_SECRET"} & set(env), f"a secret in the environment: {env}"
    assert not any(v in (JWT_ARN, HANDLE_KEY_ARN) for v in env.values()), f"a secret's ARN in the environment: {env}"
    assert sorted(secrets_the_execution_role_reads(t, values)) == sorted(want_reads)


def test_the_handle_key_check_sees_a_wider_grant_and_a_plain_environment_value():
    t = copy.deepcopy(cfn())
    values = dict(REQUIRED, JwtJwksUrl="https://auth.example.com/jwks.json", HandleKeyArn=HANDLE_KEY_ARN)
    (st,) = [s for s in t["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] if "ReadHandleKey" in json.dumps(s)]
    st["Fn::If"][1]["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"}
    assert secrets_the_execution_role_reads(t, values) == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:*"]
    c = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    c["Environment"].append({"Name": "MCP_HANDLE_KEY", "Value": {"Ref": "HandleKeyArn"}})
    assert container_environment(t, values)["MCP_HANDLE_KEY"] == HANDLE_KEY_ARN
