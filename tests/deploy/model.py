"""Reads the reference deployment in both flavours into one neutral model, and checks the
invariants docs/SECURITY.md promises on that model.

- Terraform: every file of deploy/terraform parsed with python-hcl2 (no terraform needed).
- CloudFormation: deploy/cloudformation/mcp-server.yaml decoded with cfn-lint's loader (short
  tags such as !If become their long forms).

`check_invariants(model)` returns a list of violations (empty = all hold). The tests feed it the
real files and deliberately broken copies, so every check is shown to be able to fail.

Input rules are executed, not just found: `hcl_eval` evaluates the subset of HCL used in the
module's `validation` and `precondition` conditions, and `cfn_rules_eval` the CloudFormation
Rules functions; AllowedPattern and the regexes inside `can(regex(...))` run with Python's `re`.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TF_DIR = ROOT / "deploy" / "terraform"
TF_MODULE = TF_DIR / "modules" / "mcp_server"
CFN_TEMPLATE = ROOT / "deploy" / "cloudformation" / "mcp-server.yaml"
# The CDK flavour's synthesized template (tests/deploy/run.sh runs `cdk synth` first).
CDK_TEMPLATE = ROOT / "deploy" / "cdk" / "cdk.out" / "QuiltMcpServer.template.json"
CONFIG_RS = ROOT / "crates" / "quilt-mcp-server" / "src" / "config.rs"

LISTENER_PATHS = {"/mcp", "/mcp/*", "/.well-known/oauth-protected-resource*"}
TASK_ROLE_ACTIONS = {
    "sts:AssumeRole",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "cloudformation:ListStackResources",
}
# The server's secret settings (`serve --help` hides their values; test_settings.py checks this
# list against it): only ever a task definition secret, never an environment entry.
SECRET_ENV = {"MCP_JWT_SECRET", "MCP_JWT_SECRET_PREVIOUS", "MCP_HANDLE_KEY"}
# Inputs that hold a secret's ARN: no environment value may be computed from them.
SECRET_INPUT = re.compile(r"jwt_secret|JwtSecret|handle_key|HandleKey")
STOP_MARGIN_S = 5

HCL_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


# --------------------------------------------------------------------------------------------
# Server facts, read from the Rust source so the deployment cannot drift from it.


def server_default(env: str) -> str:
    """The clap default of the setting read from `env` in config.rs."""
    text = CONFIG_RS.read_text()
    m = re.search(
        r'env\s*=\s*"' + re.escape(env) + r'"[^)]*?default_value(?:_t)?\s*=\s*"?([^",)]+)"?',
        text,
    )
    if not m:
        raise AssertionError(f"config.rs has no default for {env}")
    return m.group(1).strip()


# --------------------------------------------------------------------------------------------
# Loading.


@functools.lru_cache(maxsize=256)
def _parse_hcl(text: str) -> dict:
    return hcl2.load(io.StringIO(text), serialization_options=HCL_OPTIONS)


def load_hcl_text(text: str) -> dict:
    """One .tf file's text, parsed (memoised: the tests parse the same files many times)."""
    return copy.deepcopy(_parse_hcl(text))


def load_tf_dir(directory: Path, overrides: dict[str, str] | None = None) -> dict[str, dict]:
    """Every .tf file of `directory`, parsed; `overrides` replaces a file's text by name."""
    docs = {}
    for path in sorted(directory.glob("*.tf")):
        text = (overrides or {}).get(path.name, path.read_text())
        docs[path.name] = load_hcl_text(text)
    return docs


def load_cfn_text(text: str) -> dict:
    from cfnlint.decode import decode_str

    template, matches = decode_str(text)
    if matches:
        raise AssertionError(f"template does not decode: {matches}")
    return template


def merged(docs: dict[str, dict]) -> dict[str, list]:
    """All files' top-level blocks together: {"resource": [...], "variable": [...], ...}."""
    out: dict[str, list] = {}
    for doc in docs.values():
        for key, value in doc.items():
            out.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    return out


def tf_blocks(docs: dict[str, dict], kind: str, type_: str | None = None) -> list[tuple[str, dict]]:
    """(name, body) of every `kind` block (resource/data of `type_`, or variable/output)."""
    found = []
    for entry in merged(docs).get(kind, []):
        for first, body in entry.items():
            if type_ is None:
                found.append((first, body))
            elif first == type_:
                for name, inner in body.items():
                    found.append((name, inner))
    return found


def tf_locals(docs: dict[str, dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in merged(docs).get("locals", []):
        out.update(entry)
    return out


def one(items: list, what: str):
    if len(items) != 1:
        raise AssertionError(f"expected exactly one {what}, found {len(items)}")
    return items[0]


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def strip_interp(value: Any) -> Any:
    """'${expr}' → 'expr' for a string that is one whole interpolation."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return value


# --------------------------------------------------------------------------------------------
# The neutral model both flavours are read into.


@dataclass
class Deployment:
    flavour: str
    egress: list[dict] = field(default_factory=list)  # {protocol, from, to, cidr}
    ingress: list[dict] = field(default_factory=list)  # {protocol, from, to, source}
    task_role_statements: list[dict] = field(default_factory=list)  # {actions, resources, effect}
    execution_role: str | None = None
    task_role: str | None = None
    environment_names: set[str] = field(default_factory=set)
    environment_values: dict[str, Any] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)
    # Container secret → the inputs (variables/parameters) its ARN comes from.
    secret_sources: dict[str, set[str]] = field(default_factory=dict)
    # The execution role's statements that touch Secrets Manager: {sid, actions, resources},
    # each resource the input it comes from, or "other: <expression>" (a literal, a pattern).
    secret_reads: list[dict] = field(default_factory=list)
    health_check_path: str | None = None
    listener_paths: set[str] = field(default_factory=set)
    desired_count_default: Any = None
    desired_count_min: Any = None
    circuit_breaker: dict = field(default_factory=dict)
    stop_timeout_for: Callable[[int], Any] | None = None
    grace_default: Any = None
    readonly_root: Any = None
    assign_public_ip: Any = None
    # How to judge one resource entry of the task role policy: returns a problem or None.
    resource_problem: Callable[[Any], str | None] | None = None


# ---- Terraform ----------------------------------------------------------------------------


def tf_model(docs: dict[str, dict]) -> Deployment:
    m = Deployment("terraform")
    loc = tf_locals(docs)
    variables = dict(tf_blocks(docs, "variable"))

    # Security group rules (the aws_vpc_security_group_*_rule resources of the task group).
    for _, rule in tf_blocks(docs, "resource", "aws_vpc_security_group_egress_rule"):
        if strip_interp(rule.get("security_group_id")) != "aws_security_group.task.id":
            continue
        m.egress.append(
            {
                "protocol": rule.get("ip_protocol"),
                "from": tf_value(rule.get("from_port"), loc, variables),
                "to": tf_value(rule.get("to_port"), loc, variables),
                "cidr": rule.get("cidr_ipv4") or rule.get("cidr_ipv6") or rule.get("prefix_list_id"),
            }
        )
    for _, rule in tf_blocks(docs, "resource", "aws_vpc_security_group_ingress_rule"):
        if strip_interp(rule.get("security_group_id")) != "aws_security_group.task.id":
            continue
        m.ingress.append(
            {
                "protocol": rule.get("ip_protocol"),
                "from": tf_value(rule.get("from_port"), loc, variables),
                "to": tf_value(rule.get("to_port"), loc, variables),
                "source": rule.get("referenced_security_group_id") or rule.get("cidr_ipv4"),
            }
        )
    for _, sg in tf_blocks(docs, "resource", "aws_security_group"):
        for e in as_list(sg.get("egress")):
            m.egress.append(
                {
                    "protocol": e.get("protocol"),
                    "from": e.get("from_port"),
                    "to": e.get("to_port"),
                    "cidr": e.get("cidr_blocks"),
                }
            )
        for i in as_list(sg.get("ingress")):
            m.ingress.append(
                {
                    "protocol": i.get("protocol"),
                    "from": i.get("from_port"),
                    "to": i.get("to_port"),
                    "source": i.get("security_groups") or i.get("cidr_blocks"),
                }
            )

    # Task role policy: the policy document attached to the role the task definition names.
    task_def = one(tf_blocks(docs, "resource", "aws_ecs_task_definition"), "aws_ecs_task_definition")[1]
    m.execution_role = strip_interp(task_def.get("execution_role_arn"))
    m.task_role = strip_interp(task_def.get("task_role_arn"))
    task_role_name = (m.task_role or "").removeprefix("aws_iam_role.").removesuffix(".arn")
    policies = {name: body for name, body in tf_blocks(docs, "data", "aws_iam_policy_document")}
    for _, rp in tf_blocks(docs, "resource", "aws_iam_role_policy"):
        if strip_interp(rp.get("role")) != f"aws_iam_role.{task_role_name}.id":
            continue
        doc_name = strip_interp(rp.get("policy")).removeprefix("data.aws_iam_policy_document.").removesuffix(".json")
        doc = policies.get(doc_name, {})
        statements = list(as_list(doc.get("statement")))
        for dyn in as_list(doc.get("dynamic")):
            for content in as_list(dyn.get("statement", {}).get("content")):
                statements.append(content)
        for st in statements:
            m.task_role_statements.append(
                {
                    "effect": st.get("effect", "Allow"),
                    "actions": as_list(st.get("actions")),
                    "resources": as_list(st.get("resources")),
                }
            )
    for _, rp in tf_blocks(docs, "resource", "aws_iam_role_policy_attachment"):
        if strip_interp(rp.get("role")) == f"aws_iam_role.{task_role_name}.name":
            m.task_role_statements.append(
                {"effect": "Allow", "actions": ["<managed policy>"], "resources": ["*"]}
            )

    # Execution role: its Secrets Manager statements, resources resolved to the inputs.
    execution_role_name = (m.execution_role or "").removeprefix("aws_iam_role.").removesuffix(".arn")
    for _, rp in tf_blocks(docs, "resource", "aws_iam_role_policy"):
        if strip_interp(rp.get("role")) != f"aws_iam_role.{execution_role_name}.id":
            continue
        doc_name = strip_interp(rp.get("policy")).removeprefix("data.aws_iam_policy_document.").removesuffix(".json")
        doc = policies.get(doc_name, {})
        statements = list(as_list(doc.get("statement")))
        for dyn in as_list(doc.get("dynamic")):
            statements += as_list(dyn.get("statement", {}).get("content"))
        for st in statements:
            actions = as_list(st.get("actions"))
            if any(a == "*" or str(a).startswith("secretsmanager:") for a in actions):
                m.secret_reads.append(
                    {"sid": st.get("sid"), "actions": actions, "resources": tf_input_refs(st.get("resources"), loc)}
                )

    def resource_problem(entry: Any) -> str | None:
        return tf_resource_problem(entry, loc, variables)

    m.resource_problem = resource_problem

    # Container: environment and secrets come from the maps the container object iterates.
    container = loc.get("container", {})
    env_expr = str(container.get("environment", ""))
    sec_expr = str(container.get("secrets", ""))
    env_map = referenced_local_map(env_expr, loc)
    sec_map = referenced_local_map(sec_expr, loc)
    m.environment_names = set(env_map)
    m.environment_values = dict(env_map)
    if "valueFrom" not in sec_expr:
        m.secret_names = set()
    else:
        m.secret_names = set(sec_map)
        m.secret_sources = {k: set(tf_input_refs(v, loc)) for k, v in sec_map.items()}
    m.readonly_root = container.get("readonlyRootFilesystem")
    m.stop_timeout_for = lambda grace: tf_stop_timeout(container.get("stopTimeout"), loc, grace)
    m.grace_default = variables.get("shutdown_grace_s", {}).get("default")

    tg = one(tf_blocks(docs, "resource", "aws_lb_target_group"), "aws_lb_target_group")[1]
    hc = as_list(tg.get("health_check"))
    m.health_check_path = hc[0].get("path") if hc else None

    rule = one(tf_blocks(docs, "resource", "aws_lb_listener_rule"), "aws_lb_listener_rule")[1]
    for cond in as_list(rule.get("condition")):
        for pp in as_list(cond.get("path_pattern")):
            m.listener_paths |= set(as_list(pp.get("values")))

    svc = one(tf_blocks(docs, "resource", "aws_ecs_service"), "aws_ecs_service")[1]
    dc = variables.get("desired_count", {})
    m.desired_count_default = dc.get("default")
    m.desired_count_min = tf_min_from_validation(dc)
    if strip_interp(svc.get("desired_count")) != "var.desired_count":
        m.desired_count_default = tf_value(svc.get("desired_count"), loc, variables)
        m.desired_count_min = m.desired_count_default
    cb = as_list(svc.get("deployment_circuit_breaker"))
    m.circuit_breaker = {"enable": cb[0].get("enable"), "rollback": cb[0].get("rollback")} if cb else {}
    nc = as_list(svc.get("network_configuration"))
    m.assign_public_ip = nc[0].get("assign_public_ip") if nc else None
    return m


def tf_input_refs(entry: Any, loc: dict, seen: frozenset = frozenset()) -> list[str]:
    """The variables a resource/secret expression is made of (through locals, `compact` and
    lists), each as its name; anything else in it as "other: <text>" — a literal ARN, a
    pattern, a variable with text around it."""
    if isinstance(entry, list):
        return [r for e in entry for r in tf_input_refs(e, loc, seen)]
    if not isinstance(entry, str):
        return [f"other: {entry!r}"]
    expr = strip_interp(entry)
    if expr == entry:
        return [f"other: {entry}"]  # a literal (or text around an interpolation)
    out = []
    for kind, name in REF.findall(expr):
        if kind == "var":
            out.append(name)
        elif name in loc and name not in seen:
            out += tf_input_refs(loc[name], loc, seen | {name})
        else:
            out.append(f"other: local.{name}")
    rest = REF.sub("", expr)
    rest = re.sub(r"\bcompact\b|[\s()\[\],]", "", rest)
    if rest:
        out.append(f"other: {expr}")
    return out


def tf_value(value: Any, loc: dict, variables: dict) -> Any:
    """A literal, or the value of `local.x` / the default of `var.x`."""
    ref = strip_interp(value)
    if isinstance(ref, str) and ref.startswith("local.") and ref[6:] in loc:
        return tf_value(loc[ref[6:]], loc, variables)
    if isinstance(ref, str) and ref.startswith("var.") and ref[4:] in variables:
        return variables[ref[4:]].get("default")
    return value


def tf_min_from_validation(variable: dict) -> Any:
    for v in as_list(variable.get("validation")):
        m = re.search(r"var\.\w+\s*>=\s*(\d+)", str(v.get("condition", "")))
        if m:
            return int(m.group(1))
    return None


def tf_stop_timeout(expr: Any, loc: dict, grace: int) -> Any:
    expr = strip_interp(expr)
    if isinstance(expr, str) and expr.startswith("local."):
        expr = strip_interp(loc.get(expr[6:]))
    if isinstance(expr, (int, float)):
        return expr
    return hcl_eval(str(expr), {"shutdown_grace_s": grace})


def referenced_local_map(expr: str, loc: dict) -> dict:
    """The local map a `[for k, v in local.NAME : ...]` expression iterates over."""
    m = re.search(r"for\s+\w+\s*,\s*\w+\s+in\s+(?:merge\([^)]*?)?local\.(\w+)", expr)
    if not m:
        return {}
    value = loc.get(m.group(1))
    return value if isinstance(value, dict) else {}


REF = re.compile(r"\b(local|var)\.([A-Za-z_][A-Za-z0-9_]*)")
STRING = re.compile(r'"((?:\\.|[^"\\])*)"')


def arn_wildcard_problem(arn: str) -> str | None:
    """A resource string that grants too much: '*', or an ARN with a wildcard service, region
    scope, account or empty resource name."""
    s = arn.strip()
    if s == "*":
        return "resource is '*'"
    if not s.startswith("arn:"):
        return None  # an interpolation fragment; its parts are judged where they come from
    parts = s.split(":", 5)
    if len(parts) < 6:
        return f"{s!r} is not a full ARN"
    _, partition, service, _region, account, resource = parts
    if "*" in service or "*" in partition:
        return f"{s!r} has a wildcard service"
    if "*" in account:
        return f"{s!r} has a wildcard account"
    name = resource.split("/", 1)[1] if "/" in resource else resource
    if name.startswith("*") or resource in ("*", "role/*"):
        return f"{s!r} has a wildcard resource name"
    return None


def tf_resource_problem(entry: Any, loc: dict, variables: dict, seen: frozenset = frozenset()) -> str | None:
    """Follows `local.`/`var.` references in a Terraform resource expression: string literals
    must pass `arn_wildcard_problem`, variables must have a validation that refuses '*'."""
    if isinstance(entry, list):
        for e in entry:
            p = tf_resource_problem(e, loc, variables, seen)
            if p:
                return p
        return None
    if isinstance(entry, dict):
        return tf_resource_problem(list(entry.values()), loc, variables, seen)
    if not isinstance(entry, str):
        return None
    expr = strip_interp(entry)
    # Literal strings: the whole entry (no interpolation) or quoted strings inside an expression.
    literals = [expr] if expr == entry else [s for s in STRING.findall(expr)]
    for lit in literals:
        p = arn_wildcard_problem(lit.replace("\\\"", '"'))
        if p:
            return p
    for kind, name in REF.findall(entry):
        key = (kind, name)
        if key in seen:
            continue
        if kind == "local":
            if name not in loc:
                return f"local.{name} is not defined"
            p = tf_resource_problem(loc[name], loc, variables, seen | {key})
            if p:
                return f"via local.{name}: {p}"
        else:
            var = variables.get(name)
            if var is None:
                return f"var.{name} is not declared"
            if not variable_refuses(var, name, "*"):
                return f"var.{name} does not refuse '*'"
    return None


def variable_refuses(var: dict, name: str, value: str) -> bool:
    """Whether a variable's validations refuse `value` (as a string, or as a one-element list
    for list variables)."""
    typ = str(var.get("type", ""))
    candidate: Any = [value] if "list" in typ else value
    for v in as_list(var.get("validation")):
        if not hcl_eval(strip_interp(v["condition"]), {name: candidate}):
            return True
    return False


# ---- CloudFormation -----------------------------------------------------------------------


def cfn_model(t: dict) -> Deployment:
    m = Deployment("cloudformation")
    res = t.get("Resources", {})
    params = t.get("Parameters", {})

    def of_type(type_: str) -> list[tuple[str, dict]]:
        return [(k, v) for k, v in res.items() if v.get("Type") == type_]

    task_def = one(of_type("AWS::ECS::TaskDefinition"), "AWS::ECS::TaskDefinition")[1]["Properties"]
    task_sgs = set()
    svc = one(of_type("AWS::ECS::Service"), "AWS::ECS::Service")[1]["Properties"]
    awsvpc = svc.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
    for sg in as_list(awsvpc.get("SecurityGroups")):
        if isinstance(sg, dict) and "Ref" in sg:
            task_sgs.add(sg["Ref"])
    m.assign_public_ip = awsvpc.get("AssignPublicIp")

    for name, sg in of_type("AWS::EC2::SecurityGroup"):
        if name not in task_sgs:
            continue
        for e in as_list(sg["Properties"].get("SecurityGroupEgress")):
            m.egress.append({"protocol": e.get("IpProtocol"), "from": e.get("FromPort"), "to": e.get("ToPort"), "cidr": e.get("CidrIp")})
        for i in as_list(sg["Properties"].get("SecurityGroupIngress")):
            m.ingress.append({"protocol": i.get("IpProtocol"), "from": i.get("FromPort"), "to": i.get("ToPort"), "source": i.get("SourceSecurityGroupId") or i.get("CidrIp")})
    for _, r in of_type("AWS::EC2::SecurityGroupEgress"):
        p = r["Properties"]
        if p.get("GroupId", {}).get("Ref") in task_sgs:
            m.egress.append({"protocol": p.get("IpProtocol"), "from": p.get("FromPort"), "to": p.get("ToPort"), "cidr": p.get("CidrIp")})
    for _, r in of_type("AWS::EC2::SecurityGroupIngress"):
        p = r["Properties"]
        if p.get("GroupId", {}).get("Ref") in task_sgs:
            m.ingress.append({"protocol": p.get("IpProtocol"), "from": p.get("FromPort"), "to": p.get("ToPort"), "source": p.get("SourceSecurityGroupId") or p.get("CidrIp")})

    def role_name(value: Any) -> str | None:
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return as_list(value["Fn::GetAtt"])[0].split(".")[0]
        if isinstance(value, dict) and "Ref" in value:
            return "param:" + value["Ref"]
        return str(value)

    m.execution_role = role_name(task_def.get("ExecutionRoleArn"))
    m.task_role = role_name(task_def.get("TaskRoleArn"))

    # Task role statements: inline Policies of the role and every policy resource naming it.
    docs = []
    task_role = res.get(m.task_role or "", {})
    for pol in as_list(task_role.get("Properties", {}).get("Policies")):
        docs.append(pol.get("PolicyDocument", {}))
    if task_role.get("Properties", {}).get("ManagedPolicyArns"):
        m.task_role_statements.append({"effect": "Allow", "actions": ["<managed policy>"], "resources": ["*"]})
    for _, r in list(of_type("AWS::IAM::RolePolicy")) + list(of_type("AWS::IAM::Policy")) + list(of_type("AWS::IAM::ManagedPolicy")):
        p = r["Properties"]
        roles = as_list(p.get("RoleName")) + as_list(p.get("Roles"))
        if any(isinstance(x, dict) and x.get("Ref") == m.task_role for x in roles):
            docs.append(p.get("PolicyDocument", {}))
    for doc in docs:
        for st in cfn_branches(as_list(doc.get("Statement"))):
            if not isinstance(st, dict):
                continue
            m.task_role_statements.append(
                {
                    "effect": st.get("Effect"),
                    "actions": as_list(st.get("Action")),
                    "resources": as_list(st.get("Resource")),
                }
            )
    m.resource_problem = lambda entry: cfn_resource_problem(entry, params)

    # Execution role: its Secrets Manager statements, resources resolved to the parameters.
    execution_role = res.get(m.execution_role or "", {})
    for pol in as_list(execution_role.get("Properties", {}).get("Policies")):
        for st in cfn_branches(as_list(pol.get("PolicyDocument", {}).get("Statement"))):
            if not isinstance(st, dict):
                continue
            actions = as_list(st.get("Action"))
            if any(a == "*" or str(a).startswith("secretsmanager:") for a in actions):
                m.secret_reads.append(
                    {"sid": st.get("Sid"), "actions": actions, "resources": cfn_input_refs(st.get("Resource"), params)}
                )

    containers = as_list(task_def.get("ContainerDefinitions"))
    c = one(containers, "container definition")
    for e in cfn_branches(as_list(c.get("Environment"))):
        if isinstance(e, dict) and "Name" in e:
            m.environment_names.add(e["Name"])
            m.environment_values[e["Name"]] = e.get("Value")
    for s in cfn_branches(as_list(c.get("Secrets"))):
        if isinstance(s, dict) and "Name" in s:
            m.secret_names.add(s["Name"])
            m.secret_sources[s["Name"]] = set(cfn_input_refs(s.get("ValueFrom"), params))
    m.readonly_root = c.get("ReadonlyRootFilesystem")
    m.stop_timeout_for = lambda grace: cfn_stop_timeout(c.get("StopTimeout"), t, grace)
    m.grace_default = params.get("ShutdownGraceS", {}).get("Default")
    if isinstance(m.grace_default, str) and m.grace_default.isdigit():
        m.grace_default = int(m.grace_default)  # CDK writes AllowedValues' defaults as strings

    tg = one(of_type("AWS::ElasticLoadBalancingV2::TargetGroup"), "target group")[1]["Properties"]
    m.health_check_path = tg.get("HealthCheckPath")
    rule = one(of_type("AWS::ElasticLoadBalancingV2::ListenerRule"), "listener rule")[1]["Properties"]
    for cond in as_list(rule.get("Conditions")):
        if cond.get("Field") == "path-pattern":
            m.listener_paths |= set(as_list(cond.get("PathPatternConfig", {}).get("Values")) + as_list(cond.get("Values")))

    dc = svc.get("DesiredCount")
    if isinstance(dc, dict) and "Ref" in dc:
        p = params.get(dc["Ref"], {})
        m.desired_count_default = p.get("Default")
        m.desired_count_min = p.get("MinValue")
        if isinstance(m.desired_count_default, str) and m.desired_count_default.isdigit():
            m.desired_count_default = int(m.desired_count_default)
    else:
        m.desired_count_default = m.desired_count_min = dc
    cb = svc.get("DeploymentConfiguration", {}).get("DeploymentCircuitBreaker", {})
    m.circuit_breaker = {"enable": cb.get("Enable"), "rollback": cb.get("Rollback")} if cb else {}
    return m


def cfn_input_refs(entry: Any, params: dict) -> list[str]:
    """The parameters a Resource/ValueFrom is (both branches of an Fn::If; AWS::NoValue
    dropped), each as its name; anything else as "other: <expression>"."""
    if isinstance(entry, list):
        return [r for e in entry for r in cfn_input_refs(e, params)]
    if isinstance(entry, dict) and set(entry) == {"Fn::If"}:
        return cfn_input_refs(list(entry["Fn::If"][1:]), params)
    if isinstance(entry, dict) and entry.get("Ref") == "AWS::NoValue":
        return []
    if isinstance(entry, dict) and set(entry) == {"Ref"} and entry["Ref"] in params:
        return [entry["Ref"]]
    return [f"other: {json.dumps(entry)}"]


def cfn_branches(items: list) -> list:
    """Statement/entry lists with `Fn::If` entries: both branches (AWS::NoValue dropped)."""
    out = []
    for item in items:
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            _, a, b = item["Fn::If"]
            out.extend(cfn_branches([a, b]))
        elif isinstance(item, dict) and item.get("Ref") == "AWS::NoValue":
            continue
        else:
            out.append(item)
    return out


def cfn_pattern_refuses(param: dict, value: str) -> bool:
    if "AllowedValues" in param:
        return value not in [str(v) for v in param["AllowedValues"]]
    pattern = param.get("AllowedPattern")
    if pattern is None:
        return False
    return re.fullmatch(pattern, value) is None


def cfn_resource_problem(entry: Any, params: dict) -> str | None:
    if isinstance(entry, list):
        for e in entry:
            p = cfn_resource_problem(e, params)
            if p:
                return p
        return None
    if isinstance(entry, str):
        return arn_wildcard_problem(entry)
    if isinstance(entry, dict):
        if set(entry) == {"Fn::If"}:
            return cfn_resource_problem(entry["Fn::If"][1:], params)
        if entry.get("Ref") == "AWS::NoValue":
            return None
        if "Ref" in entry:
            name = entry["Ref"]
            if name.startswith("AWS::"):
                return f"Ref {name} as a resource"
            if name not in params:
                return f"Ref {name} is not a parameter"
            if not cfn_pattern_refuses(params[name], "*"):
                return f"parameter {name} does not refuse '*'"
            return None
        if "Fn::Sub" in entry:
            s = entry["Fn::Sub"]
            s = s[0] if isinstance(s, list) else s
            for name in re.findall(r"\$\{([A-Za-z0-9]+)\}", s):
                if name not in params:
                    return f"Sub references {name}, not a parameter"
                if not cfn_pattern_refuses(params[name], "*"):
                    return f"parameter {name} in {s!r} does not refuse '*'"
            return arn_wildcard_problem(re.sub(r"\$\{AWS::(Partition|Region|AccountId)\}", lambda m: {"Partition": "aws", "Region": "us-east-1", "AccountId": "123456789012"}[m.group(1)], s).replace("${", "X{"))
        if "Fn::Split" in entry:
            return cfn_resource_problem(entry["Fn::Split"][1], params)
        return f"unrecognised resource expression {entry!r}"
    return None


def cfn_stop_timeout(expr: Any, t: dict, grace: int) -> Any:
    if isinstance(expr, (int, float)):
        return expr
    if isinstance(expr, dict) and "Fn::FindInMap" in expr:
        mapping, top, second = expr["Fn::FindInMap"]
        top = top["Ref"] if isinstance(top, dict) else top
        second = str(grace) if isinstance(second, dict) and second.get("Ref") == "ShutdownGraceS" else second
        if isinstance(top, str) and top == "ShutdownGraceS" and isinstance(expr["Fn::FindInMap"][1], dict):
            top = str(grace)
        return t.get("Mappings", {}).get(mapping, {}).get(top, {}).get(second)
    if isinstance(expr, dict) and expr.get("Ref") == "ShutdownGraceS":
        return grace
    return None


# --------------------------------------------------------------------------------------------
# The invariants (docs/SECURITY.md, "Deployment invariants").


def check_invariants(m: Deployment) -> list[str]:
    v: list[str] = []
    f = m.flavour

    # Egress: TCP 443 only.
    if not m.egress:
        v.append(f"{f}: task security group has no explicit egress (the default allows everything)")
    for e in m.egress:
        if str(e["protocol"]) not in ("tcp", "6") or e["from"] != 443 or e["to"] != 443:
            v.append(f"{f}: task egress other than tcp/443: {e}")
    # Ingress: only from a security group (the ALB's), only the container port.
    for i in m.ingress:
        src = strip_interp(i["source"])
        if isinstance(src, (list, str)) and "0.0.0.0/0" in str(src):
            v.append(f"{f}: task ingress open to the internet: {i}")
        if i["from"] != 8000 or i["to"] != 8000:
            v.append(f"{f}: task ingress other than port 8000: {i}")

    # Task role: only sts:AssumeRole/TagSession/SetSourceIdentity (+ stack discovery), no '*'.
    if not m.task_role_statements:
        v.append(f"{f}: the task role has no policy statements to check")
    for st in m.task_role_statements:
        if st["effect"] not in ("Allow", None):
            continue
        extra = [a for a in st["actions"] if a not in TASK_ROLE_ACTIONS]
        if extra:
            v.append(f"{f}: task role allows actions beyond role assumption: {extra}")
        if not st["resources"]:
            v.append(f"{f}: task role statement without resources: {st}")
        for r in st["resources"]:
            problem = m.resource_problem(r) if m.resource_problem else None
            if problem:
                v.append(f"{f}: task role resource {r!r}: {problem}")

    # Separate execution and task roles.
    if not m.execution_role or not m.task_role:
        v.append(f"{f}: task definition must name both an execution role and a task role")
    elif m.execution_role == m.task_role:
        v.append(f"{f}: execution role and task role are the same ({m.task_role})")

    # The JWT secrets and the handle key only via secrets, never environment.
    leaked = {n for n in m.environment_names if n in SECRET_ENV}
    if leaked:
        v.append(f"{f}: a secret in the container environment: {sorted(leaked)}")
    for name, value in m.environment_values.items():
        if SECRET_INPUT.search(json.dumps(value)):
            v.append(f"{f}: environment {name} takes its value from a secret's input")
    for name in ("MCP_JWT_SECRET", "MCP_HANDLE_KEY"):
        if name not in m.secret_names:
            v.append(f"{f}: {name} is not delivered through the task definition's secrets")

    # The execution role reads each of those secrets by its ARN, and nothing else: every
    # Secrets Manager resource is one of the inputs the container's secrets come from.
    sources = {src for srcs in m.secret_sources.values() for src in srcs}
    for name, srcs in sorted(m.secret_sources.items()):
        for src in sorted(srcs):
            if src.startswith("other:"):
                v.append(f"{f}: {name} comes from {src[7:]}, not from an ARN input")
    readable = set()
    for st in m.secret_reads:
        extra = [a for a in st["actions"] if a != "secretsmanager:GetSecretValue"]
        if extra:
            v.append(f"{f}: execution role statement {st['sid']} allows Secrets Manager actions beyond GetSecretValue: {extra}")
        for r in st["resources"]:
            if r in sources:
                readable.add(r)
            else:
                v.append(f"{f}: execution role statement {st['sid']} reads secrets beyond the container's: {r}")
    for name, srcs in sorted(m.secret_sources.items()):
        for src in sorted(srcs - readable):
            if not src.startswith("other:"):
                v.append(f"{f}: the execution role cannot read {name}'s secret ({src}): no secretsmanager:GetSecretValue on it")

    # Container settings the image and the runbook rely on.
    if m.environment_values.get("MCP_LISTEN") != "0.0.0.0:8000":
        v.append(f"{f}: MCP_LISTEN must be 0.0.0.0:8000, is {m.environment_values.get('MCP_LISTEN')!r}")
    if m.environment_values.get("MCP_LOG_FORMAT") != "json":
        v.append(f"{f}: MCP_LOG_FORMAT must be json")
    if m.readonly_root is not True:
        v.append(f"{f}: the root filesystem must be read-only")
    if str(m.assign_public_ip).lower() not in ("false", "disabled"):
        v.append(f"{f}: tasks must not get a public IP (got {m.assign_public_ip!r})")

    # ALB.
    if m.health_check_path != "/healthz":
        v.append(f"{f}: health check path is {m.health_check_path!r}, not /healthz")
    if m.listener_paths != LISTENER_PATHS:
        v.append(f"{f}: listener paths are {sorted(m.listener_paths)}, want {sorted(LISTENER_PATHS)}")

    # Service.
    if not (isinstance(m.desired_count_default, int) and m.desired_count_default >= 2):
        v.append(f"{f}: desired count default {m.desired_count_default!r} is below 2")
    if not (isinstance(m.desired_count_min, int) and m.desired_count_min >= 2):
        v.append(f"{f}: desired count is not held at ≥ 2 (minimum {m.desired_count_min!r})")
    if m.circuit_breaker != {"enable": True, "rollback": True}:
        v.append(f"{f}: deployment circuit breaker must be enabled with rollback, is {m.circuit_breaker}")

    # Shutdown: stopTimeout = the server's grace + margin, and the default grace is the server's.
    server_grace = int(server_default("MCP_SHUTDOWN_GRACE_S"))
    if m.grace_default != server_grace:
        v.append(f"{f}: shutdown grace default {m.grace_default!r} differs from the server's {server_grace}")
    stop = m.stop_timeout_for(server_grace) if m.stop_timeout_for else None
    if stop != server_grace + STOP_MARGIN_S:
        v.append(f"{f}: stopTimeout for grace {server_grace} is {stop!r}, want {server_grace + STOP_MARGIN_S}")
    if m.environment_values.get("MCP_SHUTDOWN_GRACE_S") in (None, ""):
        v.append(f"{f}: MCP_SHUTDOWN_GRACE_S is not passed to the container")
    return v


def load_terraform(overrides: dict[str, str] | None = None, extra: dict[str, str] | None = None) -> Deployment:
    docs = load_tf_dir(TF_MODULE, overrides)
    for name, text in (extra or {}).items():
        docs[name] = load_hcl_text(text)
    return tf_model(docs)


def load_cloudformation(template: dict | None = None) -> Deployment:
    return cfn_model(template if template is not None else load_cfn_text(CFN_TEMPLATE.read_text()))


# --------------------------------------------------------------------------------------------
# HCL condition evaluator: the subset the module's validations and preconditions use
# (literals, var.x, ==, !=, >=, <=, >, <, !, &&, ||, parentheses, lists, [for x in xs : e],
# and the functions can, regex, contains, alltrue, anytrue, length). Anything else raises, so a
# rule written outside the subset fails the tests instead of passing unchecked.

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|&&|\|\||[!<>()\[\],:+\-*/?])'
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))"
)
_FUNCS = {"can", "regex", "contains", "alltrue", "anytrue", "length", "keys"}


def _scan_strings(expr: str):
    """Yields (index, char, in_string) over `expr`."""
    in_str = False
    i = 0
    while i < len(expr):
        c = expr[i]
        if in_str and c == "\\":
            yield i, c, True
            i += 1
            if i < len(expr):
                yield i, expr[i], True
            i += 1
            continue
        if c == '"':
            in_str = not in_str
            yield i, c, True
        else:
            yield i, c, in_str
        i += 1


def _find_for(expr: str) -> tuple[int, int] | None:
    """(start, end) of the first `[for ...]` outside strings, `end` at its closing bracket."""
    depth_at_start = None
    depth = 0
    start = None
    for i, c, in_str in _scan_strings(expr):
        if in_str:
            continue
        if c == "[":
            if start is None and re.match(r"\[\s*for\s", expr[i:]):
                start, depth_at_start = i, depth
            depth += 1
        elif c == "]":
            depth -= 1
            if start is not None and depth == depth_at_start:
                return start, i
    return None


def _split_colon(body: str) -> tuple[str, str]:
    depth = 0
    for i, c, in_str in _scan_strings(body):
        if in_str:
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ":" and depth == 0:
            return body[:i], body[i + 1 :]
    raise ValueError("for expression without ':'")


def _hcl_to_python(expr: str, bound: frozenset = frozenset()) -> str:
    expr = expr.strip()
    found = _find_for(expr)
    if found:
        start, end = found
        inner = expr[start + 1 : end].strip()
        m = re.match(r"for\s+([A-Za-z_]\w*)\s+in\s+", inner)
        if not m:
            raise ValueError(f"unsupported for expression {inner!r}")
        var = m.group(1)
        coll, body = _split_colon(inner[m.end() :])
        if re.search(r"\sif\s", body):
            raise ValueError("for ... if is unsupported in rules")
        comp = (
            f"[({_hcl_to_python(body, bound | {var})}) for _l_{var} in ({_hcl_to_python(coll, bound)})]"
        )
        return _hcl_tokens(expr[:start], bound) + comp + _hcl_to_python(expr[end + 1 :], bound)
    return _hcl_tokens(expr, bound)


def _hcl_tokens(expr: str, bound: frozenset) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unsupported HCL at {expr[pos:]!r}")
        pos = m.end()
        if m.group("str") is not None:
            lit = m.group("str")
            if "${" in lit:
                raise ValueError(f"interpolation in a condition is unsupported: {lit}")
            out.append(repr(json.loads(lit)))
        elif m.group("num") is not None:
            out.append(m.group("num"))
        elif m.group("name") is not None:
            name = m.group("name")
            if name.startswith("var."):
                out.append(f"_v[{name[4:]!r}]")
            elif name in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "None"}[name])
            elif name in _FUNCS:
                out.append(f"_{name}")
            elif name in bound:
                out.append(f"_l_{name}")
            else:
                raise ValueError(f"unsupported name {name!r}")
        else:
            op = m.group("op")
            if op == "&&":
                out.append(" and ")
            elif op == "||":
                out.append(" or ")
            elif op == "!":
                out.append(" not ")
            elif op == "(" and out and out[-1] == "_can":
                out.append("(lambda: ")
            elif op in "()[],":
                out.append(op)
            elif op in ("?", ":"):
                raise ValueError("conditional expressions are unsupported in rules")
            else:
                out.append(f" {op} ")
    return "".join(out)


def _regex(pattern: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError("regex on a non-string")
    m = re.search(pattern, value)
    if not m:
        raise ValueError("no match")
    return m.group(0)


def _can(thunk: Callable[[], Any]) -> bool:
    try:
        thunk()
        return True
    except Exception:
        return False


def hcl_eval(expr: Any, variables: dict[str, Any]) -> Any:
    if not isinstance(expr, str):
        return expr  # a literal (true, a number) parsed as such
    code = _hcl_to_python(strip_interp(expr))
    env = {
        "_v": variables,
        "_can": _can,
        "_regex": _regex,
        "_contains": lambda xs, x: x in xs,
        "_alltrue": lambda xs: all(xs),
        "_anytrue": lambda xs: any(xs),
        "_length": len,
        "_keys": lambda m: sorted(m),
        "__builtins__": {},
    }
    return eval(code, env)  # noqa: S307 - the code is built from our own token translation


def tf_refusals(docs: dict[str, dict], values: dict[str, Any]) -> list[str]:
    """Error messages Terraform would give for these inputs (variable validations, then the
    preconditions of guards), evaluated from the parsed files."""
    variables = dict(tf_blocks(docs, "variable"))
    full: dict[str, Any] = {}
    for name, var in variables.items():
        full[name] = values[name] if name in values else var.get("default")
    errors = []
    for name, var in variables.items():
        if full[name] is None and "default" not in var:
            errors.append(f"{name}: required")
            continue
        for val in as_list(var.get("validation")):
            if not hcl_eval(val["condition"], {name: full[name]}):
                errors.append(val["error_message"])
    if errors:
        return errors  # Terraform stops at invalid variables before preconditions
    for _, body in tf_blocks(docs, "resource", "terraform_data"):
        for lc in as_list(body.get("lifecycle")):
            for pre in as_list(lc.get("precondition")):
                if not hcl_eval(pre["condition"], full):
                    errors.append(pre["error_message"])
    return errors


# --------------------------------------------------------------------------------------------
# CloudFormation parameter constraints and Rules.


def cfn_refusals(t: dict, values: dict[str, Any]) -> list[str]:
    params = t.get("Parameters", {})
    full: dict[str, Any] = {}
    # CloudFormation refuses a parameter the template does not declare.
    errors = [
        f"{name}: the template has no such parameter (a setting the deployment fixes or guards; see docs/OPERATIONS.md, settings)"
        for name in values
        if name not in params
    ]
    for name, p in params.items():
        if name in values:
            raw = values[name]
        elif "Default" in p:
            raw = p["Default"]
        else:
            errors.append(f"{name}: required")
            continue
        typ = p.get("Type", "String")
        if typ == "CommaDelimitedList" or typ.startswith("List<"):
            val = raw if isinstance(raw, list) else [x.strip() for x in str(raw).split(",")] if str(raw) else []
            full[name] = val
            continue
        s = str(raw)
        full[name] = s
        if "AllowedValues" in p and s not in [str(x) for x in p["AllowedValues"]]:
            errors.append(f"{name}: {p.get('ConstraintDescription', 'not an allowed value')}")
        if "AllowedPattern" in p and re.fullmatch(p["AllowedPattern"], s) is None:
            errors.append(f"{name}: {p.get('ConstraintDescription', 'does not match ' + p['AllowedPattern'])}")
        if typ == "Number":
            n = float(s)
            if "MinValue" in p and n < float(p["MinValue"]):
                errors.append(f"{name}: below {p['MinValue']}")
            if "MaxValue" in p and n > float(p["MaxValue"]):
                errors.append(f"{name}: above {p['MaxValue']}")
    if errors:
        return errors
    for rule_name, rule in t.get("Rules", {}).items():
        cond = rule.get("RuleCondition")
        if cond is not None and not cfn_rules_eval(cond, full):
            continue
        for a in rule.get("Assertions", []):
            if not cfn_rules_eval(a["Assert"], full):
                errors.append(a.get("AssertDescription", rule_name))
    return errors


def cfn_rules_eval(expr: Any, params: dict[str, Any]) -> Any:
    if isinstance(expr, (str, int, float, bool)):
        return expr
    if isinstance(expr, list):
        return [cfn_rules_eval(e, params) for e in expr]
    if not isinstance(expr, dict) or len(expr) != 1:
        raise ValueError(f"unsupported rule expression {expr!r}")
    (fn, arg), = expr.items()
    ev = lambda e: cfn_rules_eval(e, params)  # noqa: E731
    if fn == "Ref":
        return params[arg]
    if fn == "Fn::Equals":
        a, b = arg
        return ev(a) == ev(b)
    if fn == "Fn::Not":
        return not ev(arg[0])
    if fn == "Fn::And":
        return all(ev(x) for x in arg)
    if fn == "Fn::Or":
        return any(ev(x) for x in arg)
    if fn == "Fn::Contains":
        xs, x = arg
        return ev(x) in ev(xs)
    if fn == "Fn::EachMemberIn":
        xs, allowed = arg
        return all(x in ev(allowed) for x in ev(xs))
    if fn == "Fn::EachMemberEquals":
        xs, value = arg
        return all(x == ev(value) for x in ev(xs))
    raise ValueError(f"unsupported rule function {fn}")
