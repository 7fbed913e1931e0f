#!/usr/bin/env python3
"""Call tools with the official Python SDK (mcp==2.3.0) as a client that can be asked to
confirm (elicitation), answering every question the same way.

Usage: mcp_confirm.py URL TOKEN MODE ANSWER CALLS
  URL     e.g. http://127.0.0.1:8080/mcp
  TOKEN   bearer token
  MODE    legacy (initialize, 2025-11-25) or auto (2026-07-28 when the server speaks it)
  ANSWER  accept | decline | cancel: what the user answers; none: the client declares no
          elicitation capability (no callback)
  CALLS   a JSON list of {"tool": NAME, "arguments": {...}}, called in order on one client

The SDK drives the 2026-07-28 input_required rounds itself (client.call_tool retries with the
answers), so a confirmation costs this script nothing but the callback.

Prints {"protocol_version", "questions": [message, ...], "results": [{isError,
structuredContent} or {"error": ...}]} as JSON. Exit 0 unless the client could not connect.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult


async def run(url: str, token: str, mode: str, answer: str, calls: list) -> dict:
    questions: list[str] = []

    async def on_elicit(context, params):
        questions.append(params.message)
        return ElicitResult(action=answer, content={} if answer == "accept" else None)

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    extra = {} if answer == "none" else {"elicitation_callback": on_elicit}
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, **extra) as client:
            results = []
            for call in calls:
                try:
                    r = await client.call_tool(call["tool"], call.get("arguments", {}))
                    results.append({"isError": r.is_error, "structuredContent": r.structured_content})
                except MCPError as e:
                    results.append({"error": {"code": e.code, "message": e.message, "data": e.data}})
            return {"protocol_version": client.protocol_version, "questions": questions, "results": results}


def main() -> int:
    if len(sys.argv) != 6 or sys.argv[4] not in ("accept", "decline", "cancel", "none"):
        print(__doc__, file=sys.stderr)
        return 2
    url, token, mode, answer, calls = sys.argv[1:]
    print(json.dumps(asyncio.run(run(url, token, mode, answer, json.loads(calls))), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
