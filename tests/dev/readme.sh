#!/usr/bin/env bash
# The README's commands, run as written (`make test` runs this), so they cannot drift: every
# command the README shows — in a ```sh block or as `make …`/`cargo …` inline code — is either
# run here and its promised result checked, or listed in SKIP with the reason. A new command
# in the README that this script does not know fails the test.
#
#   make dev                         → serves; the command it prints answers as the read role;
#                                      a second `make dev` on the same port fails first, clearly
#   the ```sh block (make -s token, curl) → answers as assumed-role/QuiltDemoReadRole/mcp-alice
#   cargo run -p quilt-mcp-server -- stdio → answers initialize on stdout
#
# The README's address 127.0.0.1:8000 is replaced by a free port (the only change made to a
# command). Logs are checked for ANSI escapes (none when not a terminal). Each run has its own
# temporary directory; bounded in time; stops what it started on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quilt-mcp/target}"
MAKE="${MAKE:-make}"
PY=.venv/bin/python
work="$(mktemp -d "${TMPDIR:-/tmp}/quilt-mcp-readme.XXXXXX")"
dev_pid=""
cleanup() {
  if [[ -n "$dev_pid" ]]; then
    kill -- -"$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
pass() { echo "readme: ok    $1"; passed=$((passed + 1)); }
fail() { echo "readme: FAILED $1"; failed=$((failed + 1)); }

# Commands the README shows that this script does not run, and why.
declare -A SKIP=(
  ["make test"]="runs this script"
  ["make lint"]="a step of CI (.ci/run); needs no server"
  ["make deploy-check"]="the last step of make test"
  ["make bench"]="benchmarks (minutes, figures for docs/PERFORMANCE.md); not a correctness check"
  ["cargo fmt --check"]="a step of make lint"
  ["make release"]="a release build (minutes of LTO); the Dockerfile test checks it is the image's command"
  ["cargo install cargo-nextest --locked"]="installs a tool (a prerequisite)"
)
RUN_DEV="make dev"
RUN_STDIO="cargo run -p quilt-mcp-server -- stdio"
RUN_TOKEN="make -s token SUBJECT=alice"

# 1. What the README shows.
"$PY" - README.md >"$work/commands" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
for i, block in enumerate(blocks):
    print(f"BLOCK {i}")
prose = re.sub(r"```.*?```", "", text, flags=re.S)
for span in re.findall(r"`([^`\n]+)`", prose):
    if re.match(r"(make|cargo) ", span):
        print(span)
PYEOF
"$PY" - README.md "$work" <<'PYEOF'
import re, sys, pathlib
text = open(sys.argv[1]).read()
for i, block in enumerate(re.findall(r"```sh\n(.*?)```", text, re.S)):
    pathlib.Path(sys.argv[2], f"block{i}.sh").write_text(block)
PYEOF
unknown=()
calling_block=""
while IFS= read -r cmd; do
  case "$cmd" in
    "BLOCK "*)
      n="${cmd#BLOCK }"
      if grep -q '^make dev ' "$work/block$n.sh"; then
        continue # the "On a fresh machine" block: make dev and make test, both inline below too
      elif grep -q 'curl ' "$work/block$n.sh"; then
        calling_block="$work/block$n.sh"
      else
        unknown+=("a \`\`\`sh block: $(head -n1 "$work/block$n.sh")")
      fi
      ;;
    "$RUN_DEV" | "$RUN_STDIO" | "$RUN_TOKEN") ;;
    *) [[ -n "${SKIP[$cmd]+x}" ]] || unknown+=("$cmd") ;;
  esac
done <"$work/commands"
# The fresh-machine block's commands must be the ones handled here.
for n in "$work"/block*.sh; do
  if grep -q '^make dev ' "$n"; then
    grep -oE '^make [a-z-]+' "$n" | while read -r c; do
      [[ "$c" == "$RUN_DEV" || -n "${SKIP[$c]+x}" ]] || echo "$c"
    done >>"$work/unknown-block"
  fi
done
if [[ -s "$work/unknown-block" ]]; then
  mapfile -t more <"$work/unknown-block"
  unknown+=("${more[@]}")
fi
if ((${#unknown[@]})); then
  fail "the README shows commands this test does not run or skip: ${unknown[*]}"
else
  pass "every README command is run here or skipped with a reason ($(wc -l <"$work/commands") found)"
fi
[[ -n "$calling_block" ]] || fail "no \`\`\`sh block with the curl command in README.md"

# 2. `make dev`, on a free port, as its own process group.
port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
listen="127.0.0.1:$port"
setsid $MAKE --no-print-directory dev DEV_LISTEN="$listen" >"$work/dev.log" 2>&1 &
dev_pid=$!
# The first build may take many minutes on a busy 2-core machine (README_BUILD_TIMEOUT_S).
deadline=$((SECONDS + ${README_BUILD_TIMEOUT_S:-2400}))
while ((SECONDS < deadline)); do
  grep -q 'serving MCP over HTTP' "$work/dev.log" && break
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 0.2
done
if ! grep -q 'serving MCP over HTTP' "$work/dev.log"; then
  cat "$work/dev.log"
  echo "readme: make dev never served"
  exit 1
fi
# The command make dev printed.
eval "$(grep 'export TOKEN=' "$work/dev.log" | sed 's/^ *//')"
answer="$(eval "$(grep 'curl -s http' "$work/dev.log" | sed 's/^ *//')")"
if grep -q 'assumed-role/QuiltDemoReadRole/mcp-dev-user' <<<"$answer"; then
  pass "make dev: the printed command answers as assumed-role/QuiltDemoReadRole/mcp-dev-user"
else
  fail "make dev: the printed command answered: $answer"
fi
if grep -q $'\x1b' "$work/dev.log"; then
  fail "make dev: ANSI escapes in a log that is not a terminal"
else
  pass "make dev: plain log lines (no ANSI escapes) when not on a terminal"
fi

# 3. A second `make dev` on the same port: refused before building or printing a token.
set +e
timeout 120 $MAKE --no-print-directory dev DEV_LISTEN="$listen" >"$work/busy.log" 2>&1
status=$?
set -e
first="$(grep -v '^make: \*\*\*' "$work/busy.log" | head -n1)"
if [[ $status -ne 0 && "$first" == "make dev: cannot listen on $listen"* ]] &&
  ! grep -q 'TOKEN\|Compiling\|moto' "$work/busy.log"; then
  pass "make dev on a busy port: '$first' before anything else"
else
  cat "$work/busy.log"
  fail "make dev on a busy port: exit $status, output above"
fi

# 4. The README's calling block, as written but for the address.
if [[ -n "$calling_block" ]]; then
  sed "s/127\.0\.0\.1:8000/$listen/g" "$calling_block" >"$work/calling.sh"
  # `make token` mints for DEV_LISTEN (the token's `aud` is that server's URL): the same address.
  answer="$(DEV_LISTEN="$listen" bash -eu -o pipefail "$work/calling.sh" 2>"$work/calling.err" || true)"
  if grep -q 'assumed-role/QuiltDemoReadRole/mcp-alice' <<<"$answer" &&
    grep -q '"credential_source":"stack_roles"' <<<"$answer"; then
    pass "README block (make -s token SUBJECT=alice + curl): stack_roles, assumed-role/QuiltDemoReadRole/mcp-alice"
  else
    cat "$work/calling.err"
    fail "README block answered: $answer"
  fi
fi

# 5. stdio, as the README runs it: initialize answered on stdout.
if timeout 600 "$PY" - "$RUN_STDIO" <<'PYEOF'; then
import json, subprocess, sys
init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "readme", "version": "1"}}}
p = subprocess.Popen(sys.argv[1].split(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    p.stdin.write((json.dumps(init) + "\n").encode()); p.stdin.flush()
    line = p.stdout.readline()
    answer = json.loads(line)
    assert answer["result"]["serverInfo"]["name"] == "quilt-mcp", answer
finally:
    p.kill(); p.wait()
PYEOF
  pass "$RUN_STDIO: answers initialize"
else
  fail "$RUN_STDIO: no initialize answer"
fi

echo "readme: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
