#!/usr/bin/env bash
# Keeps README's `make dev` true: runs scripts/dev.sh on free loopback ports, runs the client
# command it prints, and checks the answer came from the emulator through a stack role.
# Bounded in time; stops the server and the emulator on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
log="$(mktemp)"
port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
DEV_LISTEN="127.0.0.1:$port" DEV_SECRET="smoke-test-secret-0123456789abcdefghij" setsid scripts/dev.sh > "$log" 2>&1 &
dev_pid=$!
trap 'kill -- -"$dev_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 600); do
  grep -q 'serving MCP over HTTP' "$log" && break
  kill -0 "$dev_pid" 2>/dev/null || { cat "$log"; echo "dev smoke: scripts/dev.sh exited early"; exit 1; }
  sleep 0.2
done
grep -q 'serving MCP over HTTP' "$log" || { cat "$log"; echo "dev smoke: server never started"; exit 1; }
eval "$(grep 'export TOKEN=' "$log" | sed 's/^ *//')"
answer="$(eval "$(grep 'curl -s http' "$log" | sed 's/^ *//')")"
if ! grep -q 'assumed-role/QuiltDemoReadRole/mcp-dev-user' <<<"$answer"; then
  echo "$answer"
  echo "dev smoke: 1 passed, 1 failed"
  exit 1
fi
echo "dev smoke: the printed command answered as assumed-role/QuiltDemoReadRole/mcp-dev-user"
