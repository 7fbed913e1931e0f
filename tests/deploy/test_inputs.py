"""Unsafe input is refused at plan/validate time, the same way in both flavours.

Each scenario is one set of inputs (snake_case; PascalCase for CloudFormation). The rules are
executed from the parsed files: Terraform `validation` conditions and guard `precondition`s
through `model.hcl_eval`, CloudFormation AllowedPattern/AllowedValues/MinValue and Rules through
`model.cfn_refusals`. When terraform is installed, the same scenarios also go through a real
`terraform plan` of variables.tf + guards.tf (no provider needed); without it those cases skip
and say so."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import model as M

BASE = {
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/quilt-mcp-server:0.1.0",
    "vpc_id": "vpc-0123456789abcdef0",
    "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "alb_listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/quilt-alb/0123456789abcdef/0123456789abcdef",
    "alb_security_group_id": "sg-0123456789abcdef0",
    "public_url": "https://mcp.example.com",
    "jwt_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/jwt-AbCdEf",
    "read_role_arn": "arn:aws:iam::123456789012:role/quilt-prod-T4BucketReadRole-ABC123",
    "buckets": ["quilt-example-data", "quilt-example-shared/projects/"],
}

HANDLE_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/handle-key-GhIjKl"

# name → (changes to BASE, phrase the refusal must contain, or None when it must be accepted)
SCENARIOS = {
    "valid_reference_inputs": ({}, None),
    "valid_stack_name_instead_of_arns": ({"read_role_arn": "", "quilt_stack_name": "quilt-prod"}, None),
    "valid_jwks_instead_of_secret": ({"jwt_secret_arn": "", "jwt_jwks_url": "https://auth.example.com/.well-known/jwks.json", "handle_key_arn": HANDLE_KEY_ARN}, None),
    "valid_jwks_scaled_out": ({"jwt_secret_arn": "", "jwt_jwks_url": "https://auth.example.com/.well-known/jwks.json", "handle_key_arn": HANDLE_KEY_ARN, "desired_count": 4, "max_count": 20}, None),
    "valid_handle_key_beside_the_secret": ({"handle_key_arn": HANDLE_KEY_ARN}, None),
    # Every deployment runs at least 2 tasks (desired_count ≥ 2): without a JWT secret to derive
    # it from, each task would have its own random handle key.
    "jwks_without_handle_key": ({"jwt_secret_arn": "", "jwt_jwks_url": "https://auth.example.com/.well-known/jwks.json"}, "random key"),
    "plain_text_handle_key": ({"handle_key_arn": "the-handle-key-itself-0123456789abcdef0123456789"}, "Secrets Manager"),
    "wildcard_handle_key": ({"handle_key_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:*"}, "Secrets Manager"),
    "handle_key_is_the_jwt_secret": ({"handle_key_arn": BASE["jwt_secret_arn"]}, "own secret"),
    "handle_key_is_the_previous_secret": ({"handle_key_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/jwt-old-XyZ123", "jwt_secret_previous_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/jwt-old-XyZ123"}, "own secret"),
    "valid_rotation": ({"jwt_secret_previous_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:quilt-mcp/jwt-old-XyZ123"}, None),
    "valid_role_claims": ({"role_claim_allowed_arns": ["arn:aws:iam::123456789012:role/quilt-user-*"]}, None),
    "stack_roles_without_role_arns": ({"read_role_arn": "", "quilt_stack_name": ""}, "stack_roles"),
    "plain_text_jwt_secret": ({"jwt_secret_arn": "hunter2-this-is-the-secret-itself-0123456789"}, "Secrets Manager"),
    "plain_text_previous_secret": ({"jwt_secret_previous_arn": "old-secret-value-0123456789abcdef0123"}, "Secrets Manager"),
    "wildcard_bucket": ({"buckets": ["*"]}, "wildcard"),
    "wildcard_bucket_pattern": ({"buckets": ["quilt-*"]}, "wildcard"),
    "wildcard_in_prefix": ({"buckets": ["quilt-example-data/raw*"]}, "wildcard"),
    "no_buckets": ({"buckets": []}, "bucket"),
    "ambient_source": ({"credential_sources": ["jwt", "ambient"]}, "ambient"),
    "wildcard_read_role": ({"read_role_arn": "arn:aws:iam::123456789012:role/*"}, "role"),
    "star_read_role": ({"read_role_arn": "*"}, "role"),
    "wildcard_role_claim": ({"role_claim_allowed_arns": ["*"]}, "role"),
    "wildcard_account_role_claim": ({"role_claim_allowed_arns": ["arn:aws:iam::*:role/x"]}, "role"),
    "no_key_source": ({"jwt_secret_arn": ""}, "exactly one"),
    "two_key_sources": ({"jwt_jwks_url": "https://auth.example.com/jwks.json"}, "exactly one"),
    "previous_without_current": ({"jwt_secret_arn": "", "jwt_jwks_url": "https://a.example.com/jwks", "jwt_secret_previous_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:old-AbCdEf"}, "without"),
    "single_task": ({"desired_count": 1}, "2"),
    "http_public_url": ({"public_url": "http://mcp.example.com"}, "https"),
    "odd_shutdown_grace": ({"shutdown_grace_s": 26}, "grace"),
    "valid_kms_with_key": ({"s3_sse": "aws:kms", "s3_sse_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"}, None),
    "kms_without_key": ({"s3_sse": "aws:kms"}, "kms"),
    "key_without_kms": ({"s3_sse_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"}, "never be used"),
    "kms_key_alias": ({"s3_sse": "aws:kms", "s3_sse_kms_key_id": "alias/quilt"}, "kms key arn"),
    "unknown_sse": ({"s3_sse": "aws:fsx"}, "sse"),
    "valid_quilt_catalog_without_scopes": ({"registry_url": "https://registry.quilt.example.com", "catalog_url": "https://quilt.example.com", "require_scopes": False}, None),
    "valid_quilt_catalog_with_scope_map": ({"registry_url": "https://registry.quilt.example.com", "scope_map": "quilt:read=catalog.read,quilt:write=catalog.write"}, None),
    "catalog_tokens_with_scopes_and_no_map": ({"registry_url": "https://registry.quilt.example.com"}, "scope"),
    "catalog_url_with_scopes_and_no_map": ({"catalog_url": "https://quilt.example.com"}, "scope"),
    "probe_prefix_without_slash": ({"permission_write_probe_prefix": ".quilt-mcp-probe"}, "prefix"),
    "athena_output_not_s3": ({"athena_output_location": "https://results.example.com/"}, "s3://"),
    "valid_tunables": ({"settings": {"MCP_MAX_IN_FLIGHT": "512", "MCP_HEALTHZ_STRICT": "true"}}, None),
    "tunable_sets_a_guarded_setting": ({"settings": {"MCP_JWT_SECRET": "hunter2"}}, "settings"),
    "tunable_turns_auth_off": ({"settings": {"MCP_AUTH_DISABLED": "true"}}, "settings"),
    "tunable_with_whitespace": ({"settings": {"MCP_ALLOWED_HOSTS": "a.example.com b.example.com"}}, "whitespace"),
}

CFN_LIST_AS_STRING = {"Buckets", "RoleClaimAllowedArns", "AthenaAllowedWorkgroups"}
# Terraform's `settings` map is one parameter per name in CloudFormation (and CDK).
SETTINGS_VAR = "settings"


def env_pascal(env: str) -> str:
    """MCP_MAX_IN_FLIGHT → McpMaxInFlight: the parameter of a `settings` entry."""
    return "".join(p.capitalize() for p in env.lower().split("_"))


def pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def inputs(changes: dict) -> dict:
    values = dict(BASE)
    values.update(changes)
    return values


def cfn_inputs(values: dict) -> dict:
    out = {}
    for k, v in values.items():
        if k == SETTINGS_VAR:
            for env, value in v.items():
                # A name Terraform refuses has no parameter: CloudFormation refuses it too.
                out[env_pascal(env)] = value
            continue
        if isinstance(v, bool):
            v = str(v).lower()
        name = pascal(k)
        if name in CFN_LIST_AS_STRING and isinstance(v, list):
            v = ",".join(v)
        out[name] = v
    return out


def check(errors: list[str], expect: str | None, where: str):
    if expect is None:
        assert errors == [], f"{where}: valid inputs were refused: {errors}"
    else:
        assert errors, f"{where}: unsafe inputs were accepted"
        assert any(expect.lower() in e.lower() for e in errors), (
            f"{where}: refused, but not with a message about {expect!r}: {errors}"
        )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_terraform_rules_refuse_unsafe_input(scenario):
    changes, expect = SCENARIOS[scenario]
    errors = M.tf_refusals(M.load_tf_dir(M.TF_MODULE), inputs(changes))
    check(errors, expect, f"terraform/{scenario}")


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_cloudformation_rules_refuse_unsafe_input(scenario):
    changes, expect = SCENARIOS[scenario]
    template = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    errors = M.cfn_refusals(template, cfn_inputs(inputs(changes)))
    check(errors, expect, f"cloudformation/{scenario}")


def tf_settings_allowed(docs=None) -> list[str]:
    """The names Terraform's `settings` input accepts (the list in its validation)."""
    var = dict(M.tf_blocks(docs or M.load_tf_dir(M.TF_MODULE), "variable"))[SETTINGS_VAR]
    condition = str(M.as_list(var["validation"])[0]["condition"])
    return re.findall(r'"([A-Z][A-Z0-9_]+)"', condition)


def test_both_flavours_have_the_same_parameters_and_defaults():
    tf_vars = dict(M.tf_blocks(M.load_tf_dir(M.TF_MODULE), "variable"))
    params = M.load_cfn_text(M.CFN_TEMPLATE.read_text())["Parameters"]
    tf_names = {pascal(n) for n in tf_vars if n not in ("tags", SETTINGS_VAR)}  # CloudFormation tags the stack
    tf_names |= {env_pascal(e) for e in tf_settings_allowed()}
    tf_vars = {n: v for n, v in tf_vars.items() if n != SETTINGS_VAR}
    assert tf_names == set(params), (
        f"only in Terraform: {sorted(tf_names - set(params))}; only in CloudFormation: {sorted(set(params) - tf_names)}"
    )
    for name, var in tf_vars.items():
        if name == "tags" or "default" not in var:
            assert name == "tags" or "Default" not in params[pascal(name)], f"{name}: default only in CloudFormation"
            continue
        tf_default = var["default"]
        cfn_default = params[pascal(name)].get("Default")
        if isinstance(tf_default, list):
            tf_default = ",".join(tf_default)
        if isinstance(tf_default, bool):
            tf_default = str(tf_default).lower()
        assert str(tf_default) == str(cfn_default), f"{name}: Terraform default {tf_default!r}, CloudFormation {cfn_default!r}"


def test_stop_timeout_mapping_covers_every_allowed_grace():
    t = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    allowed = [int(v) for v in t["Parameters"]["ShutdownGraceS"]["AllowedValues"]]
    mapping = t["Mappings"]["StopTimeoutFor"]["ShutdownGraceS"]
    assert sorted(int(k) for k in mapping) == sorted(allowed)
    for grace, stop in mapping.items():
        assert int(stop) == int(grace) + M.STOP_MARGIN_S, f"grace {grace} → StopTimeout {stop}"
        assert int(stop) <= 120, "Fargate's stopTimeout is at most 120 s"
    # Terraform allows exactly the same values.
    docs = M.load_tf_dir(M.TF_MODULE)
    for grace in range(0, 130):
        tf_ok = not M.tf_refusals(docs, inputs({"shutdown_grace_s": grace}))
        assert tf_ok == (grace in allowed), f"grace {grace}: terraform accepts={tf_ok}"


# ---- The same scenarios through a real `terraform plan`, when terraform is installed ---------

TERRAFORM = shutil.which("terraform")


@pytest.fixture(scope="module")
def guard_root():
    if not TERRAFORM:
        pytest.skip("terraform is not installed: the rules were checked from the parsed files only")
    with tempfile.TemporaryDirectory() as d:
        for name in ("variables.tf", "guards.tf"):
            shutil.copy(M.TF_MODULE / name, Path(d) / name)
        env = dict(os.environ, TF_IN_AUTOMATION="1", TF_CLI_CONFIG_FILE="/dev/null", CHECKPOINT_DISABLE="1")
        init = subprocess.run(
            [TERRAFORM, "init", "-backend=false", "-input=false", "-no-color"],
            cwd=d, env=env, capture_output=True, text=True, timeout=120,
        )
        assert init.returncode == 0, f"terraform init failed: {init.stderr}"
        yield d, env


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_terraform_plan_refuses_unsafe_input(guard_root, scenario):
    d, env = guard_root
    changes, expect = SCENARIOS[scenario]
    var_file = Path(d) / f"{scenario}.tfvars.json"
    var_file.write_text(json.dumps(inputs(changes)))
    plan = subprocess.run(
        [TERRAFORM, "plan", "-input=false", "-no-color", "-lock=false", f"-var-file={var_file}"],
        cwd=d, env=env, capture_output=True, text=True, timeout=120,
    )
    out = " ".join((plan.stdout + plan.stderr).split())
    if expect is None:
        assert plan.returncode == 0, f"terraform plan refused valid inputs: {out}"
    else:
        assert plan.returncode != 0, f"terraform plan accepted unsafe inputs ({scenario})"
        assert expect.lower() in out.lower(), f"terraform refused, but not about {expect!r}: {out}"


# ---- The rule evaluation is not vacuous: without the rule, the unsafe input gets through ------


def test_without_their_rules_the_unsafe_inputs_would_be_accepted():
    import re

    variables = (M.TF_MODULE / "variables.tf").read_text()
    guards = (M.TF_MODULE / "guards.tf").read_text()
    no_bucket_rule, n1 = re.subn(r'(variable "buckets" \{.*?condition\s*=\s*)[^\n]+', r"\1true", variables, count=1, flags=re.S)
    no_secret_rule, n2 = re.subn(r'(variable "jwt_secret_arn" \{.*?condition\s*=\s*)[^\n]+', r"\1true", variables, count=1, flags=re.S)
    no_stack_guard, n3 = re.subn(r"precondition \{\s*condition\s*=\s*!contains\(var\.credential_sources, \"stack_roles\"\)[^}]*\}", "", guards, count=1, flags=re.S)
    no_handle_key_guard, n4 = re.subn(r"precondition \{\s*condition\s*=\s*var\.jwt_secret_arn != \"\" \|\| var\.handle_key_arn != \"\"[^}]*\}", "", guards, count=1, flags=re.S)
    no_handle_key_rule, n5 = re.subn(r'(variable "handle_key_arn" \{.*?condition\s*=\s*)[^\n]+', r"\1true", variables, count=1, flags=re.S)
    assert (n1, n2, n3, n4, n5) == (1, 1, 1, 1, 1), "mutation anchors not found"
    cases = [
        ({"variables.tf": no_bucket_rule}, "wildcard_bucket"),
        ({"variables.tf": no_secret_rule}, "plain_text_jwt_secret"),
        ({"guards.tf": no_stack_guard}, "stack_roles_without_role_arns"),
        ({"guards.tf": no_handle_key_guard}, "jwks_without_handle_key"),
        ({"variables.tf": no_handle_key_rule}, "plain_text_handle_key"),
    ]
    for overrides, scenario in cases:
        changes, _ = SCENARIOS[scenario]
        errors = M.tf_refusals(M.load_tf_dir(M.TF_MODULE, overrides), inputs(changes))
        assert errors == [], f"terraform/{scenario}: still refused without its rule: {errors}"

    template = M.load_cfn_text(M.CFN_TEMPLATE.read_text())
    del template["Parameters"]["Buckets"]["AllowedPattern"]
    del template["Parameters"]["JwtSecretArn"]["AllowedPattern"]
    del template["Rules"]["StackRolesNeedRoles"]
    del template["Rules"]["JwksOnlyNeedsHandleKey"]
    del template["Parameters"]["HandleKeyArn"]["AllowedPattern"]
    for scenario in ("wildcard_bucket", "plain_text_jwt_secret", "stack_roles_without_role_arns", "jwks_without_handle_key", "plain_text_handle_key"):
        changes, _ = SCENARIOS[scenario]
        errors = M.cfn_refusals(template, cfn_inputs(inputs(changes)))
        assert errors == [], f"cloudformation/{scenario}: still refused without its rule: {errors}"
