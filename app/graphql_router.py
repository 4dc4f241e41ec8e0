"""The `/graphql` endpoint: POST, GET for persisted operations, WebSocket for subscriptions.

It builds each request's context: who the viewer is (a bad token leaves the request anonymous
with the reason kept, so public reads still work and private ones say why they failed), and the
per-user and per-IP rate limits.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Depends, Request, WebSocket
from fastapi import HTTPException as FastAPIHTTPException
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.types.unset import UnsetType

from app.context import AppState, Context
from app.errors import UnauthenticatedError, UnavailableError, is_transient
from app.observability import RATE_LIMITED, request_id_var
from auth.permissions import Viewer

_BEARER = "bearer "
# A multipart POST is a "simple" request a foreign page may send without a CORS preflight; one
# of these headers (Apollo's and GraphQL-over-HTTP's names) forces the preflight, so a browser
# cannot be tricked into uploading for another site (CSRF). Our clients send one.
# Multipart bodies get the upload size limit and start their database deadline only once the
# files are in (app/http_guards.py): only the mutations that take files (and set that deadline
# themselves) may come that way.
MULTIPART_FIELDS = frozenset({"uploadMaterial", "submitApplication", "__typename"})
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "graphql-preflight")


def _client_ip(connection: HTTPConnection) -> str:
    # Behind the load balancer uvicorn's --proxy-headers puts the real client here.
    return connection.client.host if connection.client else "unknown"


def _bearer(value: str | None) -> str | None:
    if value and value[: len(_BEARER)].lower() == _BEARER:
        return value[len(_BEARER) :].strip() or None
    return None


async def _authenticate(state: AppState, token: str | None) -> tuple[Viewer | None, Any]:
    if token is None:
        return None, None
    try:
        return await state.auth_service().authenticate(token), None
    except UnauthenticatedError as exc:
        return None, exc


def _limit(state: AppState, viewer: Viewer | None, ip: str) -> None:
    waits = [("ip", state.ip_rate.hit(ip))]
    if viewer is not None:
        waits.append(("user", state.user_rate.hit(str(viewer.user_id))))
    for scope, wait in waits:
        if wait > 0:
            RATE_LIMITED.labels(scope).inc()
            raise FastAPIHTTPException(
                429,
                detail="请求过于频繁，请稍后再试 (rate limited)",
                headers={"Retry-After": str(math.ceil(wait))},
            )


async def _close_uploaded_files(connection: HTTPConnection) -> AsyncIterator[None]:
    """Multipart file parts are spooled temporary files; close them when the request is done,
    whether or not a resolver ever read them (a refused or invalid operation never does)."""
    try:
        yield
    finally:
        form = getattr(connection, "_form", None)
        if isinstance(connection, Request) and form is not None:
            await form.close()


class ZsbGraphQLRouter(GraphQLRouter[Context, None]):
    def __init__(
        self, schema: BaseSchema, get_state: Callable[[], AppState], **kwargs: Any
    ) -> None:
        # The state is built in the lifespan, after routes exist, so it is looked up per request.
        self.get_state = get_state

        async def get_context(connection: HTTPConnection) -> Context:
            state = get_state()
            viewer, auth_error = None, None
            # WebSocket clients authenticate in connection_init instead (on_ws_connect).
            if not isinstance(connection, WebSocket):
                token = _bearer(connection.headers.get("authorization"))
                try:
                    viewer, auth_error = await _authenticate(state, token)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    # Before execution there is no GraphQL result to carry the error: an HTTP
                    # 503 with Retry-After says the same to any client or load balancer.
                    raise FastAPIHTTPException(
                        503, detail=UnavailableError().message, headers={"Retry-After": "1"}
                    ) from exc
                _limit(state, viewer, _client_ip(connection))
            return Context(
                state, viewer=viewer, auth_error=auth_error, request_id=request_id_var.get()
            )

        dependencies = [*kwargs.pop("dependencies", []), Depends(_close_uploaded_files)]
        super().__init__(schema, context_getter=get_context, dependencies=dependencies, **kwargs)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """WebSocket clients sign in with `{"authorization": "Bearer …"}` in connection_init."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        token = _bearer(params.get("authorization"))
        viewer, auth_error = await _authenticate(self.get_state(), token)
        if token is not None and viewer is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.viewer, context.auth_error = viewer, auth_error
        return await super().on_ws_connect(context)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL only for a browser asking for a page, never for a persisted-operation GET."""
        params = request.query_params
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and not ({"query", "id", "extensions"} & set(params.keys()))
            and "text/html" in request.headers.get("accept", "")
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "GET" and "query" in request.query_params:
            raise HTTPException(
                400, "GET serves persisted operations only: send `id` (the operation's SHA-256)"
            )
        content_type = (request.content_type or "").lower()
        if content_type.startswith("multipart/") and not any(
            request.headers.get(name) for name in PREFLIGHT_HEADERS
        ):
            raise HTTPException(
                400, "Multipart requests need an `apollo-require-preflight: true` header"
            )
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            raise HTTPException(400, "Batched operations are not accepted")
        if content_type.startswith("multipart/") and not _uploads_only(data.query):
            raise HTTPException(
                400, "Multipart requests carry uploadMaterial or submitApplication only"
            )
        if data.query is None:
            digest = self._persisted_id(request, data)
            if digest is None:
                raise HTTPException(400, "No GraphQL query found in the request")
            query = self.get_state().operations.get(digest)
            if query is None:
                raise HTTPException(404, "Unknown persisted operation")
            data.query = query
        return data

    @staticmethod
    def _persisted_id(request: AsyncHTTPRequestAdapter, data: GraphQLRequestData) -> str | None:
        """`?id=<sha256>` or Apollo's `extensions.persistedQuery.sha256Hash`."""
        digest = request.query_params.get("id") if request.method == "GET" else None
        persisted = (data.extensions or {}).get("persistedQuery")
        if digest is None and isinstance(persisted, dict):
            digest = persisted.get("sha256Hash")
        return digest if isinstance(digest, str) and len(digest) == 64 else None


def _uploads_only(query: str | None) -> bool:
    """Whether a (multipart) request's document is one mutation selecting one field that takes
    files (besides `__typename`): two of them would share the request's file parts, which the
    first one reads and closes."""
    try:
        document = parse(query or "")
    except GraphQLError:
        return False
    fields = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            return False  # fragments could smuggle other fields in
        if definition.operation != OperationType.MUTATION:
            return False
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.name.value not in MULTIPART_FIELDS:
                return False
            fields += selection.name.value != "__typename"
    return fields <= 1
