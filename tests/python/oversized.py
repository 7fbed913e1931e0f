#!/usr/bin/env python3
"""Send a request body over the server's limit the way ordinary Python clients do, and report
what each client got: httpx (httpx2, what the MCP SDK uses) posting a raw JSON-RPC body, and
the official MCP client (mcp 2.x) calling bucket_objects_put with too much data.

Usage: oversized.py URL TOKEN RAW_BYTES PUT_BYTES
  RAW_BYTES  size of the raw JSON body httpx posts (e.g. 50000000)
  PUT_BYTES  bytes of object data the MCP client puts (sent base64-encoded)

Prints one JSON object: {"httpx": {...}, "mcp": {...}}; each says what the client saw
(status and JSON body, or the exception's type and text). The caller asserts on it.
"""
import asyncio
import base64
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


def leaf_errors(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaf_errors(sub)]
    return [exc]


async def raw_httpx(url: str, token: str, size: int) -> dict:
    # A well-formed JSON-RPC message whose padding makes it `size` bytes long.
    head = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bucket_objects_put","arguments":{"bucket":"b","items":[{"key":"k","text":"'
    tail = b'"}]}}}'
    body = head + b"x" * (size - len(head) - len(tail)) + tail
    async with httpx2.AsyncClient(timeout=60.0) as http:
        try:
            r = await http.post(url, content=body, headers={**HEADERS, "Authorization": f"Bearer {token}"})
        except Exception as e:  # what the issue saw: ReadError('')
            return {"error": type(e).__name__, "message": repr(e)}
        try:
            parsed = r.json()
        except Exception:
            parsed = r.text
        return {"status": r.status_code, "body": parsed, "connection": r.headers.get("connection")}


async def mcp_put(url: str, token: str, size: int) -> dict:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60.0))
    try:
        async with http:
            async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                data = base64.b64encode(b"\0" * size).decode()
                result = await client.call_tool(
                    "bucket_objects_put", {"bucket": "b", "items": [{"key": "big.bin", "data": data}]}
                )
                return {"isError": result.is_error, "structuredContent": result.structured_content}
    except BaseException as exc:
        return {"errors": [{"type": type(e).__name__, "message": str(e), "repr": repr(e)} for e in leaf_errors(exc)]}


async def main() -> None:
    url, token, raw_bytes, put_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    out = {"httpx": await raw_httpx(url, token, raw_bytes), "mcp": await mcp_put(url, token, put_bytes)}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    asyncio.run(main())
