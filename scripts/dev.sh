#!/usr/bin/env bash
# `make dev`: the server on the built-in AWS emulator. Starts moto on a free loopback port,
# seeds demo data (a bucket, objects, a Glue table, stack read/write roles), prints a token
# and a ready-to-paste client command, then runs the server in the foreground. Ctrl-C stops
# both.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quilt-mcp/target}"

LISTEN="${DEV_LISTEN:-127.0.0.1:8000}"
SECRET="${DEV_SECRET:?DEV_SECRET must be set (the Makefile sets it)}"
MOTO_PORT="${DEV_MOTO_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
MOTO_URL="http://127.0.0.1:${MOTO_PORT}"

.venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "${TMPDIR:-/tmp}/quilt-mcp-dev-moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$MOTO_URL/moto-api/" 2>/dev/null && break
  sleep 0.1
done
eval "$(.venv/bin/python scripts/seed_demo.py "$MOTO_URL")"

cargo build --locked --quiet -p quilt-mcp-server --bin quilt-mcp-server
BIN="$CARGO_TARGET_DIR/debug/quilt-mcp-server"
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
"$BIN" serve
