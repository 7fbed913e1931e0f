#!/usr/bin/env bash
# `make deploy-check`: the reference deployment's static checks. Needs `make venv` and the
# checkov venv (the Makefile makes both). No network, no AWS account, no Docker daemon.
#   1. cfn-lint on the CloudFormation template;
#   2. checkov on the Terraform, the template and the Dockerfile: zero failed checks (each
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

echo "== cfn-lint deploy/cloudformation"
.venv/bin/cfn-lint deploy/cloudformation/*.yaml
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
checkov_run dockerfile -f Dockerfile --framework dockerfile

echo "== pytest tests/deploy"
"$PY" -m pytest -q -rs -p no:cacheprovider tests/deploy
