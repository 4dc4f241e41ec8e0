"""Response cache for public guide reads sent as GET persisted operations.

Key: (operation hash, variables, catalogue version). A hit skips GraphQL entirely: no parsing,
no context, no database, just the stored bytes, with an ETag (304 when the client already has
them) and a short `Cache-Control` so HTTP caches and CDNs help without serving a withdrawn guide
for more than about a second. Only operations listed in `PUBLIC_OPERATIONS` are cached: they read
public fields only, so the answer is the same for every viewer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.persisted import DEFAULT_DIR, operation_hash
from matters.store import MatterStore

PUBLIC_OPERATIONS = (
    "MatterGuide",
    "SearchMatters",
    "BrowseMatters",
    "Bundles",
    "LifeEvents",
    "Departments",
    "HotMatters",
    "CatalogueStats",
)
CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=1"


def public_operation_hashes(directory: Path = DEFAULT_DIR) -> set[str]:
    hashes = set()
    for name in PUBLIC_OPERATIONS:
        path = directory / f"{name}.graphql"
        if path.is_file():
            hashes.add(operation_hash(path.read_text(encoding="utf-8")))
    return hashes


class PublicReadCache:
    def __init__(
        self, app: ASGIApp, path: str = "/graphql", operations_dir: Path = DEFAULT_DIR
    ) -> None:
        self.app = app
        self.path = path
        self.cacheable = public_operation_hashes(operations_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        digest = (params.get("id") or [""])[0]
        state = getattr(scope["app"].state, "zsb", None)
        wants_html = b"text/html" in dict(scope["headers"]).get(b"accept", b"")
        if digest not in self.cacheable or state is None or wants_html:
            await self.app(scope, receive, send)
            return
        variables = (params.get("variables") or [""])[0]
        version = await state.matters.current_version(MatterStore(state.db))
        key = (digest, variables, version)
        cached = state.matters.responses.get(key)
        if cached is not None and _allowed(state, scope):
            await _respond(send, scope, *cached)
            return
        if cached is not None:
            await self.app(scope, receive, send)  # the router answers 429 with Retry-After
            return
        await self._fill(scope, receive, send, state, key)

    async def _fill(
        self, scope: Scope, receive: Receive, send: Send, state: Any, key: tuple[str, str, int]
    ) -> None:
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        headers = list(started.get("headers", []))
        status = started.get("status", 500)
        if status == 200 and _clean(body):
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            state.matters.responses.put(key, etag, body)
            await _respond(send, scope, etag, body)
            return
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers += [(b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _allowed(state: Any, scope: Scope) -> bool:
    """Cached answers still count against the per-IP rate limit."""
    client = scope.get("client")
    ip = client[0] if client else "unknown"
    wait: float = state.ip_rate.hit(ip)
    return wait <= 0


def _clean(body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and "errors" not in payload


async def _respond(send: Send, scope: Scope, etag: str, body: bytes) -> None:
    headers = dict(scope["headers"])
    common = [
        (b"etag", etag.encode()),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"vary", b"accept-encoding"),
    ]
    if headers.get(b"if-none-match") == etag.encode():
        await send({"type": "http.response.start", "status": 304, "headers": common})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *common,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
