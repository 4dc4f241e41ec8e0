"""JSON logs carrying a request id, and the Prometheus metrics the service exports."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pymongo import monitoring
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "zsb_http_requests_total",
    "HTTP requests by route and status",
    ["route", "status"],
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    "zsb_graphql_operations_total",
    "GraphQL operations by name and type",
    ["operation", "type"],
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "zsb_graphql_errors_total",
    "GraphQL operations that returned errors",
    ["operation", "kind"],
    registry=REGISTRY,
)
GRAPHQL_LATENCY = Histogram(
    "zsb_graphql_operation_seconds",
    "GraphQL operation latency",
    ["operation"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
    registry=REGISTRY,
)
DB_POOL_CHECKED_OUT = Gauge(
    "zsb_db_pool_connections_checked_out", "MongoDB connections in use", registry=REGISTRY
)
DB_POOL_OPEN = Gauge("zsb_db_pool_connections_open", "MongoDB connections open", registry=REGISTRY)
RATE_LIMITED = Counter(
    "zsb_rate_limited_total", "Requests refused by a rate limit", ["scope"], registry=REGISTRY
)


class PoolMetrics(monitoring.ConnectionPoolListener):
    """Feeds the DB-pool gauges from PyMongo's connection-pool events."""

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None: ...
    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None: ...
    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None: ...
    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None: ...
    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None: ...
    def connection_check_out_failed(
        self, event: monitoring.ConnectionCheckOutFailedEvent
    ) -> None: ...
    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None: ...

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        DB_POOL_OPEN.inc()

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        DB_POOL_OPEN.dec()

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        DB_POOL_CHECKED_OUT.inc()

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        DB_POOL_CHECKED_OUT.dec()


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra={...}` fields are kept, the request id is added."""

    _RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in self._RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One access line per request comes from RequestContextMiddleware, with its request id.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


access_log = logging.getLogger("zsb.access")


class RequestContextMiddleware:
    """Gives every request an id (kept from a sane `X-Request-ID`), logs it, counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isprintable() else ""
        request_id = request_id or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            route = path if path in _KNOWN_ROUTES else "other"
            if scope["type"] == "http":
                HTTP_REQUESTS.labels(route, str(status)).inc()
                access_log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": path,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


_KNOWN_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})
