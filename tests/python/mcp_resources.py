#!/usr/bin/env python3
"""Drive resources, prompts and completions with the official Python SDK (mcp==2.3.0).

Usage: mcp_resources.py URL TOKEN MODE OPS
  URL   e.g. http://127.0.0.1:8080/mcp
  TOKEN bearer token
  MODE  legacy (initialize, 2025-11-25) or auto (2026-07-28 when the server speaks it)
  OPS   a JSON list of operations, run in order on one client:
        {"op": "templates"}                    resources/templates/list
        {"op": "list"}                         resources/list
        {"op": "read", "uri": "..."}           resources/read
        {"op": "complete", "template": "...", "name": "...", "value": "...", "context": {...}}
        {"op": "complete", "prompt": "...", "name": "...", "value": "...", "context": {...}}
        {"op": "prompts"}                      prompts/list
        {"op": "prompt", "name": "...", "arguments": {...}}   prompts/get

Prints {"protocol_version", "capabilities", "results": [...]} as JSON; a failed operation's
result is {"error": {"code", "message", "data"}}. Exit 0 unless the client could not connect.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PromptReference, ResourceTemplateReference

MODES = {"legacy": "legacy", "auto": "auto"}


async def one(client: Client, op: dict):
    kind = op["op"]
    if kind == "templates":
        r = await client.list_resource_templates(cache_mode="bypass")
        return r.model_dump(mode="json", by_alias=True, exclude_none=True)
    if kind == "list":
        r = await client.list_resources(cache_mode="bypass")
        return r.model_dump(mode="json", by_alias=True, exclude_none=True)
    if kind == "read":
        r = await client.read_resource(op["uri"], cache_mode="bypass")
        return r.model_dump(mode="json", by_alias=True, exclude_none=True)
    if kind == "prompts":
        r = await client.list_prompts(cache_mode="bypass")
        return r.model_dump(mode="json", by_alias=True, exclude_none=True)
    if kind == "prompt":
        r = await client.get_prompt(op["name"], op.get("arguments"))
        return r.model_dump(mode="json", by_alias=True, exclude_none=True)
    if kind == "complete":
        ref = (
            PromptReference(name=op["prompt"])
            if "prompt" in op
            else ResourceTemplateReference(uri=op["template"])
        )
        r = await client.complete(
            ref,
            {"name": op["name"], "value": op["value"]},
            op.get("context"),
        )
        return r.model_dump(mode="json", by_alias=True, exclude_none=True)
    raise ValueError(f"unknown op {kind}")


async def run(url: str, token: str, mode: str, ops: list) -> dict:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=MODES[mode]) as client:
            results = []
            for op in ops:
                try:
                    results.append(await one(client, op))
                except MCPError as e:
                    err = getattr(e, "error", None)
                    results.append(
                        {
                            "error": {
                                "code": getattr(err, "code", None),
                                "message": getattr(err, "message", str(e)),
                                "data": getattr(err, "data", None),
                            }
                        }
                    )
            caps = client.server_capabilities
            return {
                "protocol_version": client.protocol_version,
                "capabilities": caps.model_dump(mode="json", exclude_none=True) if caps else None,
                "results": results,
            }


def main() -> int:
    if len(sys.argv) != 5 or sys.argv[3] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    out = asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
