#!/usr/bin/env bash
# `make dev`: the server on the built-in AWS emulator. Checks the listen port is free (before
# printing anything), builds the server (with cargo's progress), starts moto on a free
# loopback port, seeds demo data (a bucket, objects, a Glue table, stack read/write roles),
# prints a token and a ready-to-paste client command, then runs the server in the foreground.
# Ctrl-C stops both. Each run keeps its files (the emulator's log) in its own temporary
# directory, removed on exit, so two runs never share or delete each other's files.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quilt-mcp/target}"

LISTEN="${DEV_LISTEN:-127.0.0.1:8000}"
SECRET="${DEV_SECRET:?DEV_SECRET must be set (the Makefile sets it)}"
PY=.venv/bin/python

# 1. The port, first: a busy port must fail before a build, a banner or a token.
# SO_REUSEADDR as tokio's listener sets it, so a port with only TIME_WAIT connections is free.
if ! port_problem="$("$PY" - "$LISTEN" <<'PYEOF'
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
host = host.strip("[]")
try:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.close()
except (OSError, ValueError) as e:
    print(e)
    sys.exit(1)
PYEOF
)"; then
  echo "make dev: cannot listen on $LISTEN: $port_problem" >&2
  echo "  Another server (an earlier \`make dev\`?) may be using it. Stop it, or pick another address:" >&2
  echo "  make dev DEV_LISTEN=127.0.0.1:8001" >&2
  exit 1
fi

# 2. The build, with cargo's progress on screen (a cold build takes minutes).
cargo build --locked -p quilt-mcp-server --bin quilt-mcp-server
BIN="$CARGO_TARGET_DIR/debug/quilt-mcp-server"

# 3. The emulator, on a free port, its log in this run's own directory.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/quilt-mcp-dev.XXXXXX")"
MOTO_PORT="${DEV_MOTO_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
MOTO_URL="http://127.0.0.1:${MOTO_PORT}"
.venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$WORK/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# Caught (not default-fatal) so the EXIT trap above runs on Ctrl-C and on SIGTERM too.
trap 'exit 130' INT
trap 'exit 143' TERM
ready=false
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "$MOTO_URL/moto-api/" 2>/dev/null; then ready=true; break; fi
  kill -0 "$MOTO_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ "$ready" != true ]]; then
  echo "make dev: the AWS emulator (moto) did not start on $MOTO_URL; its log:" >&2
  cat "$WORK/moto.log" >&2
  exit 1
fi
eval "$("$PY" scripts/seed_demo.py "$MOTO_URL")"

# The token's `aud` is the server's resource URL (http://$LISTEN/mcp), derived from MCP_LISTEN.
TOKEN="$(MCP_JWT_SECRET="$SECRET" MCP_LISTEN="$LISTEN" "$BIN" token --subject dev-user --bucket quilt-demo)"

cat <<MSG

  quilt-mcp on http://$LISTEN/mcp — AWS emulator (moto) on $MOTO_URL, demo bucket s3://quilt-demo
  Token for dev-user (1 hour):

    export TOKEN=$TOKEN

  Try it (who the server and AWS think you are):

    curl -s http://$LISTEN/mcp -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"auth_status","arguments":{"include_aws_identity":true}}}'

MSG

export MCP_LISTEN="$LISTEN" MCP_JWT_SECRET="$SECRET"
export AWS_ENDPOINT_URL="$MOTO_URL" AWS_REGION=us-east-1
# The server's own identity on the emulator (it only assumes the stack roles with it).
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export QUILT_READ_ROLE_ARN QUILT_WRITE_ROLE_ARN
# Not exec: the EXIT trap must still stop moto and remove $WORK when the server stops.
"$BIN" serve
