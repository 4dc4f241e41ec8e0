"""Multipart upload requests (the GraphQL multipart request spec) and small test files."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import httpx
from PIL import Image

from app.context import AppState
from app.ids import to_global_id
from app.ratelimit import RateLimiter
from auth.permissions import Viewer
from tests.factories import Api

UPLOAD = """
mutation Up($input: UploadMaterialInput!) {
  uploadMaterial(input: $input) {
    upload { id fileName contentType size sha256 createdAt width height inUse }
    userErrors { field code message }
  }
}"""


def png(seed: str = "x", size: tuple[int, int] = (8, 8)) -> bytes:
    """A small PNG whose pixels depend on `seed` (distinct seeds: distinct content)."""
    colour = tuple(hashlib.sha256(seed.encode()).digest()[:3])
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


async def post_upload(
    api: Api,
    token: str | None,
    content: bytes,
    file_name: str = "材料.png",
    content_type: str = "image/png",
    *,
    preflight: bool = True,
) -> httpx.Response:
    operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if preflight:
        headers["apollo-require-preflight"] = "true"
    return await api.client.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (file_name, content, content_type)},
        headers=headers,
    )


async def upload(api: Api, token: str, content: bytes, **kw: Any) -> dict[str, Any]:
    response = await post_upload(api, token, content, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["uploadMaterial"]
    return payload


async def upload_png(api: Api, token: str, seed: str = "x") -> str:
    payload = await upload(api, token, png(seed))
    assert payload["userErrors"] == [], payload
    return str(payload["upload"]["id"])


class BytesSource:
    """A file part for the service called directly (what UploadFile offers: async read)."""

    def __init__(self, content: bytes) -> None:
        self._buffer = io.BytesIO(content)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


async def stored_upload(state: AppState, viewer: Viewer, seed: str) -> str:
    """An upload made through the service (tests that call services without HTTP), without
    the per-user upload rate (property tests upload many times in one database)."""
    service = state.upload_service()
    service.rate = RateLimiter(service.rate.rate, enabled=False)
    stored = await service.upload(viewer, f"{seed}.png", BytesSource(png(seed)))
    return to_global_id("Upload", stored.id)
