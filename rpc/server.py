"""aiohttp app: JSON-RPC over HTTP `POST /` and WebSocket on the same path (spec/rpc.md §1)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from rpc.dispatch import NO_REPLY, Limits, Methods, handle_body
from rpc.errors import PARSE_ERROR, limit_exceeded
from rpc.status import STATUS
from rpc.subscriptions import Connection, Hub, handle_subscription_call

log = logging.getLogger(__name__)

WS_IDLE_TIMEOUT_S = 60.0

METHODS = web.AppKey("methods", Methods)
HUB = web.AppKey("hub", Hub)
LIMITS = web.AppKey("limits", Limits)
CORS = web.AppKey("cors_origins", tuple)


def _cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    allowed = request.app[CORS]
    if origin and ("*" in allowed or origin in allowed):
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS", "Vary": "Origin"}
    return {}


def _json_response(value: Any, request: web.Request, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(value, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", headers=_cors_headers(request))


async def handle_http(request: web.Request) -> web.StreamResponse:
    limits = request.app[LIMITS]
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        err = limit_exceeded(f"request body exceeds {limits.max_tx_body} bytes")
        return _json_response({"jsonrpc": "2.0", "id": None, "error": err.to_json()}, request, status=413)
    status, body = rpc_reply(await handle_body(request.app[METHODS], raw, limits))
    if body is None:
        return web.Response(status=status, headers=_cors_headers(request))
    return web.Response(body=body, status=status, content_type="application/json", headers=_cors_headers(request))


def rpc_reply(reply: Any) -> tuple[int, bytes | None]:
    """What `handle_body` gave → the HTTP status and JSON body (None: nothing owed, a notification)."""
    if reply is NO_REPLY:
        return 200, None
    is_parse_error = isinstance(reply, dict) and reply.get("error", {}).get("code") == PARSE_ERROR
    return 400 if is_parse_error else 200, json.dumps(reply, separators=(",", ":")).encode()


async def handle_get(request: web.Request) -> web.StreamResponse:
    """WebSocket upgrade on `/`; a plain GET gets a short text answer."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        if "text/html" in request.headers.get("Accept", "") and STATUS in request.app:
            raise web.HTTPFound("/status")
        return web.Response(text="megaeth-node JSON-RPC: POST JSON-RPC 2.0 requests to this URL\n")
    ws = web.WebSocketResponse(max_msg_size=request.app[LIMITS].max_tx_body, heartbeat=30)
    await ws.prepare(request)
    hub, conn = request.app[HUB], Connection()

    async def subscribe(params: list[Any]) -> Any:
        return handle_subscription_call(hub, conn, "eth_subscribe", params)

    async def unsubscribe(params: list[Any]) -> Any:
        return handle_subscription_call(hub, conn, "eth_unsubscribe", params)

    methods = {**request.app[METHODS], "eth_subscribe": subscribe, "eth_unsubscribe": unsubscribe}

    async def writer() -> None:
        while True:
            await ws.send_str(await conn.queue.get())

    hub.connections.add(conn)
    sender = asyncio.create_task(writer())
    try:
        while True:
            try:
                msg = await ws.receive(timeout=WS_IDLE_TIMEOUT_S)
            except asyncio.TimeoutError:
                break
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            raw = msg.data.encode() if isinstance(msg.data, str) else msg.data
            reply = await handle_body(methods, raw, request.app[LIMITS])
            if reply is not NO_REPLY and not conn.reply(json.dumps(reply, separators=(",", ":"))):
                log.info("closing a WebSocket whose client does not read its replies")
                break
    finally:
        hub.connections.discard(conn)
        sender.cancel()
        await ws.close()
    return ws


async def handle_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=_cors_headers(request))


def make_app(methods: Methods, limits: Limits = Limits(), cors_origins: tuple[str, ...] = (),
             hub: Hub | None = None) -> web.Application:
    """The JSON-RPC application serving `methods` (and WS subscriptions fed by `hub`)."""
    app = web.Application(client_max_size=limits.max_tx_body)
    app[METHODS] = methods
    app[HUB] = hub or Hub()
    app[LIMITS] = limits
    app[CORS] = cors_origins
    app.add_routes([web.post("/", handle_http), web.get("/", handle_get), web.options("/", handle_options)])
    return app
