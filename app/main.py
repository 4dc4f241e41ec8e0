"""The FastAPI application: lifespan (database, keys, demo data), routes and middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import db as database
from app.context import AppState
from app.graphql_router import PREFLIGHT_HEADERS, ZsbGraphQLRouter
from app.http_guards import DatabaseDeadline, RequestSizeLimit, SecurityHeaders
from app.keyring import load_keyring
from app.observability import REGISTRY, RequestContextMiddleware, configure_logging
from app.persisted import DEFAULT_DIR as DEFAULT_OPERATIONS_DIR
from app.persisted import load_operations
from app.ratelimit import Rate, RateLimiter
from app.schema import build_schema
from app.settings import DEV_ISSUER_PATH, Settings
from applications.uploads.http import materials_router
from auth.dev_issuer import DevIssuer
from auth.oidc import OidcVerifier
from auth.store import AuthStore
from auth.tokens import TokenKeys
from consoles.http import mount_consoles
from electronic_cards.http import well_known_router
from electronic_cards.store import CardsStore
from matters.http_cache import PublicReadCache

log = logging.getLogger(__name__)

# In dev, pages served from the developer's own machine (mini-program simulators, Vite).
_DEV_ORIGINS = r"https?://(localhost|127\.0\.0\.1)(:\d+)?"
# An upload request's operation, variables map and multipart framing beside the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def operations_dir(settings: Settings) -> Path:
    """Where the persisted operations are: the repo's graphql/operations, or (an installed
    wheel, the container) ZSB_OPERATIONS_DIR."""
    return settings.operations_dir or DEFAULT_OPERATIONS_DIR


async def build_state(settings: Settings) -> AppState:
    if not settings.mongodb_uri:
        raise RuntimeError("ZSB_MONGODB_URI is not set (`zsb serve` starts an embedded server)")
    keyring = load_keyring(settings)
    client = database.connect(settings.mongodb_uri)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
    issuer = settings.effective_oidc_issuer
    state = AppState(
        settings=settings,
        client=client,
        keyring=keyring,
        token_keys=TokenKeys(
            keyring.signing_key_wrap,
            old_wrap_keys=keyring.all("signing_key_wrap")[1:],
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        http=http,
        user_rate=RateLimiter(
            Rate.parse(settings.rate_limit_per_user), enabled=settings.rate_limits == "on"
        ),
        ip_rate=RateLimiter(
            Rate.parse(settings.rate_limit_per_ip), enabled=settings.rate_limits == "on"
        ),
        operations=load_operations(operations_dir(settings)),
        oidc=(
            OidcVerifier(http, issuer, settings.oidc_audience, settings.oidc_id_number_claim)
            if issuer
            else None
        ),
    )
    await database.ensure_indexes(state.db)
    await state.token_keys.ensure(AuthStore(state.db))
    await state.sdl_keys.ensure(CardsStore(state.db))
    return state


async def close_state(state: AppState) -> None:
    await state.inbox_hub.close()
    await state.http.aclose()
    await state.client.close()


def app_factory() -> FastAPI:
    """For `uvicorn --factory app.main:app_factory` (the container): settings from the
    environment, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await build_state(settings)
        if settings.demo_data_enabled:
            from app.seed import seed_demo_if_needed

            await seed_demo_if_needed(state)
        app.state.zsb = state
        log.info("service ready", extra={"env": settings.env.value})
        try:
            yield
        finally:
            await close_state(state)
            log.info("service stopped")

    app = FastAPI(
        title="掌上办 API",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def current_state() -> AppState:
        state: AppState = app.state.zsb
        return state

    router = ZsbGraphQLRouter(
        build_schema(settings),
        current_state,
        graphql_ide="graphiql" if not settings.is_production else None,
        multipart_uploads_enabled=True,
    )
    app.include_router(router, prefix="/graphql")
    app.include_router(well_known_router(current_state))
    app.include_router(materials_router(current_state))
    mount_consoles(app)  # /console/ and /verify/: static pages, clients of /graphql

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        state: AppState | None = getattr(request.app.state, "zsb", None)
        if state is None or not await database.ping(state.db):
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    if settings.dev_issuer_enabled and settings.effective_oidc_issuer and not settings.oidc_issuer:
        issuer = DevIssuer(
            settings.effective_oidc_issuer, settings.oidc_audience, settings.oidc_id_number_claim
        )
        app.mount(DEV_ISSUER_PATH, issuer.asgi_app())

    # Innermost: size limit and request ids still apply to cached answers.
    app.add_middleware(PublicReadCache, operations_dir=operations_dir(settings))
    app.add_middleware(DatabaseDeadline, seconds=settings.db_request_timeout_seconds)
    # Starlette runs the last added outermost: request ids first, then headers, CORS, size.
    app.add_middleware(
        RequestSizeLimit,
        max_bytes=settings.max_request_bytes,
        multipart_max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_origin_regex=None if settings.is_production else _DEV_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type", "x-request-id", *PREFLIGHT_HEADERS],
        expose_headers=["x-request-id", "retry-after"],
        max_age=600,
    )
    app.add_middleware(SecurityHeaders, hsts=settings.is_production)
    app.add_middleware(RequestContextMiddleware)
    return app
