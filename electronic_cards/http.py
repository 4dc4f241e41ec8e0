"""The unauthenticated HTTP documents verifiers fetch: published keys and status lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

if TYPE_CHECKING:
    from app.context import AppState

# Verifiers must refresh at least daily (spec §4); an hour keeps rotations and withdrawals
# visible quickly while letting caches absorb the traffic.
KEYS_CACHE = "public, max-age=3600"
STATUS_CACHE = "public, max-age=300"


def well_known_router(get_state: Callable[[], AppState]) -> APIRouter:
    router = APIRouter()

    @router.get("/.well-known/sdl-keys.json", include_in_schema=False)
    async def sdl_keys() -> JSONResponse:
        keys = await get_state().cards_service().published_keys()
        return JSONResponse(keys, headers={"Cache-Control": KEYS_CACHE})

    # Not in the SDL1 spec: an index so that an offline verifier (the /verify/ page) can fetch
    # every list while it is online, before it meets a token naming one. List ids are in every
    # offline token anyway, so listing them reveals nothing.
    @router.get("/.well-known/sdl-status-lists.json", include_in_schema=False)
    async def sdl_status_index() -> JSONResponse:
        ids = await get_state().cards_service().status_list_ids()
        return JSONResponse(
            {"lists": [f"/.well-known/sdl-status/{i}" for i in ids]},
            headers={"Cache-Control": STATUS_CACHE},
        )

    @router.get("/.well-known/sdl-status/{list_id}", include_in_schema=False)
    async def sdl_status(list_id: str) -> Response:
        text = await get_state().cards_service().status_list_text(list_id)
        if text is None:
            return PlainTextResponse("no such status list", status_code=404)
        return PlainTextResponse(text, headers={"Cache-Control": STATUS_CACHE})

    return router
