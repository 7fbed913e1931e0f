"""Every setting the server reads can be set in every flavour of the deployment, or is fixed by
the deployment on purpose and listed, with the reason, in docs/OPERATIONS.md ("Settings the
deployment fixes").

The list of settings is not written down here: it is read from the built binary's
`quilt-mcp-server serve --help` (`[env: NAME=]`), so a setting added to the server fails this
test until each flavour exposes it (Terraform: a variable in `local.environment`, or one line in
the `settings` input's list; CloudFormation and CDK: a parameter feeding the container's
Environment) or the runbook says why it is fixed.

The server's secrets are the settings whose values `--help` hides (`[env: NAME]`, no `=`):
MCP_JWT_SECRET, MCP_JWT_SECRET_PREVIOUS, MCP_HANDLE_KEY. Each flavour must take them as a
Secrets Manager ARN and hand them to the container as a task definition secret (ECS reads the
value at task start), never as an environment entry or through Terraform's `settings` map."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

import model as M
from test_inputs import tf_settings_allowed
from test_runtime import TARGET, binary

OPERATIONS = M.ROOT / "docs" / "OPERATIONS.md"


def help_text() -> str:
    exe = binary()
    if exe is None:
        pytest.fail(f"no quilt-mcp-server under {TARGET}: run `make build` first (make test does)")
    return subprocess.run([exe, "serve", "--help"], capture_output=True, text=True, timeout=30, check=True).stdout


def help_settings() -> set[str]:
    names = set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)[=\]]", help_text()))
    assert len(names) > 20, f"`serve --help` listed only {sorted(names)}"
    return names


def help_secret_settings() -> set[str]:
    """The settings whose values `--help` hides (clap's hide_env_values): the secrets."""
    names = set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)\]", help_text()))
    assert "MCP_JWT_SECRET" in names, f"`serve --help` hides no MCP_JWT_SECRET value: {sorted(names)}"
    return names


def fixed_settings(text: str | None = None) -> dict[str, str]:
    """name → reason, from the runbook's table of settings the deployment fixes."""
    text = OPERATIONS.read_text() if text is None else text
    m = re.search(r"^## Settings the deployment fixes\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "docs/OPERATIONS.md has no section 'Settings the deployment fixes'"
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| [^|]* \| ([^|]+) \|$", m.group(1), re.M)
    assert rows, "the table of fixed settings is empty"
    return {name: reason.strip() for name, reason in rows}


# ---- What each flavour lets an operator set --------------------------------------------------


def tf_settable_by_kind(docs: dict | None = None) -> tuple[set[str], set[str]]:
    """(environment entries fed from a variable plus the `settings` input's names, the secrets
    fed from a variable)."""
    docs = docs or M.load_tf_dir(M.TF_MODULE)
    loc = M.tf_locals(docs)
    env = {k for k, v in loc["environment"].items() if "var." in str(v)}
    secrets = {k for k, v in loc["secrets"].items() if "var." in str(v)}
    return env | set(tf_settings_allowed(docs)), secrets


def tf_settable(docs: dict | None = None) -> set[str]:
    env, secrets = tf_settable_by_kind(docs)
    return env | secrets


def _fed_by_parameter(value, params: dict) -> bool:
    """A container value that comes from a template parameter (directly, joined, or in either
    branch of an Fn::If) — not a literal or a name derived with Fn::Sub."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"] in params
        if "Fn::Join" in value:
            return _fed_by_parameter(value["Fn::Join"][1], params)
        if "Fn::If" in value:
            return any(_fed_by_parameter(v, params) for v in value["Fn::If"][1:])
        return False
    if isinstance(value, list):
        return any(_fed_by_parameter(v, params) for v in value)
    return False


def cfn_settable(template: dict) -> set[str]:
    env, secrets = cfn_settable_by_kind(template)
    return env | secrets


def cfn_settable_by_kind(template: dict) -> tuple[set[str], set[str]]:
    """(Environment entries fed from a parameter, Secrets whose ValueFrom is a parameter)."""
    params = template.get("Parameters", {})
    containers = [
        c
        for r in template["Resources"].values()
        if r.get("Type") == "AWS::ECS::TaskDefinition"
        for c in r["Properties"]["ContainerDefinitions"]
    ]
    (c,) = containers
    env, secrets = set(), set()
    for e in M.cfn_branches(M.as_list(c.get("Environment"))):
        if isinstance(e, dict) and _fed_by_parameter(e.get("Value"), params):
            env.add(e["Name"])
    for s in M.cfn_branches(M.as_list(c.get("Secrets"))):
        if isinstance(s, dict) and _fed_by_parameter(s.get("ValueFrom"), params):
            secrets.add(s["Name"])
    return env, secrets


def cfn_template() -> dict:
    return M.load_cfn_text(M.CFN_TEMPLATE.read_text())


def cdk_template() -> dict:
    if not M.CDK_TEMPLATE.exists():
        pytest.fail(f"{M.CDK_TEMPLATE} is missing: tests/deploy/run.sh synthesizes it (make deploy-check)")
    return json.loads(M.CDK_TEMPLATE.read_text())


FLAVOURS = {
    "terraform": lambda: tf_settable(),
    "cloudformation": lambda: cfn_settable(cfn_template()),
    "cdk": lambda: cdk_settable(),
}


def cdk_settable() -> set[str]:
    return cfn_settable(cdk_template())


def coverage_problems(help_names: set[str], settable: set[str], fixed: dict[str, str], flavour: str) -> list[str]:
    p = []
    for name in sorted(help_names - settable - set(fixed)):
        p.append(f"{flavour}: {name} (from `serve --help`) cannot be set, and docs/OPERATIONS.md does not list it as fixed")
    for name in sorted(set(fixed) & settable):
        p.append(f"{flavour}: {name} is listed as fixed but is an input")
    for name in sorted(set(fixed) - help_names):
        p.append(f"docs/OPERATIONS.md lists {name} as fixed, but the server has no such setting")
    return p


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_every_server_setting_is_settable_or_fixed_on_purpose(flavour):
    problems = coverage_problems(help_settings(), FLAVOURS[flavour](), fixed_settings(), flavour)
    assert problems == [], "\n".join(problems)


def test_every_fixed_setting_has_a_reason():
    for name, reason in fixed_settings().items():
        assert len(reason.split()) >= 4, f"{name}: the reason {reason!r} says too little"


# ---- The check can fail ------------------------------------------------------------------------


def test_a_new_server_setting_is_caught_in_every_flavour():
    names = help_settings() | {"MCP_SOMETHING_NEW"}
    for flavour, settable in FLAVOURS.items():
        problems = coverage_problems(names, settable(), fixed_settings(), flavour)
        assert any("MCP_SOMETHING_NEW" in p for p in problems), f"{flavour} did not notice a new setting"


def test_a_dropped_input_is_caught():
    main = (M.TF_MODULE / "main.tf").read_text()
    dropped, n = re.subn(r"\n\s*S3_SSE_KMS_KEY_ID\s*=[^\n]+", "", main, count=1)
    assert n == 1
    settable = tf_settable(M.load_tf_dir(M.TF_MODULE, {"main.tf": dropped}))
    assert any("S3_SSE_KMS_KEY_ID" in p for p in coverage_problems(help_settings(), settable, fixed_settings(), "terraform"))

    t = cfn_template()
    env = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]
    env[:] = [e for e in env if "MCP_SCOPE_MAP" not in json.dumps(e)]
    assert any("MCP_SCOPE_MAP" in p for p in coverage_problems(help_settings(), cfn_settable(t), fixed_settings(), "cloudformation"))


def test_a_fixed_setting_that_becomes_an_input_is_caught():
    fixed = fixed_settings()
    fixed["S3_SSE"] = "pretend the deployment fixes it"
    problems = coverage_problems(help_settings(), cfn_settable(cfn_template()), fixed, "cloudformation")
    assert any("S3_SSE is listed as fixed but is an input" in p for p in problems), problems


# ---- Secrets: settable as a task definition secret only ----------------------------------------

BY_KIND = {
    "terraform": lambda: tf_settable_by_kind(),
    "cloudformation": lambda: cfn_settable_by_kind(cfn_template()),
    "cdk": lambda: cfn_settable_by_kind(cdk_template()),
}


def secret_problems(secret_names: set[str], env: set[str], secrets: set[str], flavour: str) -> list[str]:
    p = []
    for name in sorted(secret_names):
        if name in env:
            p.append(f"{flavour}: {name} is a secret but can be set as a plain environment value")
        if name not in secrets:
            p.append(f"{flavour}: {name} is a secret but is not an input delivered as a task definition secret")
    for name in sorted(secrets - secret_names):
        p.append(f"{flavour}: {name} is delivered as a secret, but the server does not treat it as one")
    return p


def test_the_invariants_know_every_secret_setting():
    # model.SECRET_ENV drives the invariant "never in the environment"; it must be the server's list.
    assert M.SECRET_ENV == help_secret_settings()


@pytest.mark.parametrize("flavour", sorted(BY_KIND))
def test_every_secret_setting_is_a_task_definition_secret_and_never_an_environment_value(flavour):
    env, secrets = BY_KIND[flavour]()
    problems = secret_problems(help_secret_settings(), env, secrets, flavour)
    assert problems == [], "\n".join(problems)


def test_a_secret_wired_as_environment_is_caught():
    t = cfn_template()
    c = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    c["Secrets"] = [e for e in c["Secrets"] if "MCP_HANDLE_KEY" not in json.dumps(e)]
    c["Environment"].append({"Fn::If": ["HasHandleKey", {"Name": "MCP_HANDLE_KEY", "Value": {"Ref": "HandleKeyArn"}}, {"Ref": "AWS::NoValue"}]})
    env, secrets = cfn_settable_by_kind(t)
    problems = secret_problems(help_secret_settings(), env, secrets, "cloudformation")
    assert "cloudformation: MCP_HANDLE_KEY is a secret but can be set as a plain environment value" in problems, problems
    assert "cloudformation: MCP_HANDLE_KEY is a secret but is not an input delivered as a task definition secret" in problems, problems

    main = (M.TF_MODULE / "main.tf").read_text()
    moved, n = re.subn(r"\n\s*MCP_HANDLE_KEY\s*=\s*var\.handle_key_arn", "", main, count=1)
    assert n == 1
    variables = (M.TF_MODULE / "variables.tf").read_text()
    via_settings, n = re.subn(r'("MCP_ALLOWED_HOSTS",)', r'\1\n      "MCP_HANDLE_KEY",', variables, count=1)
    assert n == 1
    env, secrets = tf_settable_by_kind(M.load_tf_dir(M.TF_MODULE, {"main.tf": moved, "variables.tf": via_settings}))
    problems = secret_problems(help_secret_settings(), env, secrets, "terraform")
    assert "terraform: MCP_HANDLE_KEY is a secret but can be set as a plain environment value" in problems, problems
