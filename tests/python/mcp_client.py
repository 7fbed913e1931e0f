#!/usr/bin/env python3
"""Probe an MCP streamable-HTTP server with the official Python SDK (mcp==2.3.0).

Usage: client.py URL TOKEN MODE
  URL   e.g. http://127.0.0.1:8080/mcp
  TOKEN bearer token; sent as "Authorization: Bearer TOKEN" ("-" = send no Authorization header)
  MODE  legacy  -> initialize handshake, protocol 2025-11-25
        modern  -> pinned 2026-07-28, no initialize and no server/discover probe
        auto    -> server/discover probe at 2026-07-28, falls back to initialize on any MCPError

Prints one JSON object on stdout. Exit 0 on success, 1 on MCP/HTTP failure, 2 on usage error.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

MODES = {"legacy": "legacy", "modern": "2026-07-28", "auto": "auto"}


async def run(url: str, token: str, mode: str) -> dict:
    headers = {} if token == "-" else {"Authorization": f"Bearer {token}"}
    wire: list[str] = []  # JSON-RPC methods actually POSTed, for proof of handshake vs none

    async def log_request(request: httpx2.Request) -> None:
        try:
            body = json.loads(request.content or b"null")
        except Exception:
            body = None
        method = body.get("method") if isinstance(body, dict) else None
        wire.append(f"{request.method} {method or ''} pv={request.headers.get('mcp-protocol-version', '-')}".strip())

    # Same timeouts as mcp.shared._httpx_utils.create_mcp_http_client (30 s, 300 s read).
    http = httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(30.0, read=300.0),
        event_hooks={"request": [log_request]},
    )
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=MODES[mode]) as client:
            tools = await client.list_tools()
            result = await client.call_tool("auth_status", {})
            return {
                "ok": not result.is_error,
                "mode": mode,
                "protocol_version": client.protocol_version,
                "server_info": client.server_info.model_dump(mode="json") if client.server_info else None,
                "tools": [t.name for t in tools.tools],
                "isError": result.is_error,
                "structuredContent": result.structured_content,
                "text": [c.text for c in result.content if isinstance(c, TextContent)],
                "wire": wire,
            }


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """Flatten (nested) ExceptionGroups: transport/handshake failures surface wrapped by anyio task groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaf_errors(sub)]
    return [exc]


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[3] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    url, token, mode = sys.argv[1:]
    try:
        out = asyncio.run(run(url, token, mode))
    except BaseException as exc:  # MCPError, ExceptionGroup(MCPError), httpx2.ConnectError, ...
        errors = []
        for e in leaf_errors(exc):
            if isinstance(e, MCPError):
                errors.append({"type": "MCPError", "code": e.code, "message": e.message, "data": e.data})
            else:
                errors.append({"type": type(e).__name__, "message": str(e)})
        print(json.dumps({"ok": False, "mode": mode, "errors": errors}, default=str))
        return 1
    print(json.dumps(out, indent=2))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
