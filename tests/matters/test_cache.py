"""Public guide reads as GET persisted operations: ETag, Cache-Control, invalidation."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.persisted import DEFAULT_DIR, operation_hash
from app.settings import Settings
from matters import demo
from matters.runtime import VERSION_TTL
from tests.factories import Api
from tests.matters.test_operators import CREATE, EDIT, PUBLISH, new_guide

GUIDE_ID = operation_hash((DEFAULT_DIR / "MatterGuide.graphql").read_text(encoding="utf-8"))
CODE = "370202TEST0001"


POLL_INTERVAL = 0.02  # seconds; 50 polls per version TTL
JSON_ONLY = {"Accept": "application/json"}  # `*/*` from a browser gets GraphiQL instead


def guide_url(code: str) -> str:
    return f"/graphql?id={GUIDE_ID}&variables={json.dumps({'code': code})}"


async def publish_guide(api: Api, token: str, name: str) -> None:
    guide = new_guide(name=name)
    existing = await api.data("query($c: String!) { matterVersions(code: $c) { version } }",
                              {"c": CODE}, token)  # fmt: skip
    if existing["matterVersions"]:
        await api.data(EDIT, {"code": CODE, "m": guide}, token)
    else:
        await api.data(CREATE, {"m": guide}, token)
    result = await api.data(PUBLISH, {"code": CODE}, token)
    assert result["publishMatter"]["userErrors"] == []


async def test_get_is_cached_with_etag_and_revalidates(api: Api, operator_token: str) -> None:
    await publish_guide(api, operator_token, "渔港码头经营许可")
    first = await api.client.get(guide_url(CODE), headers=JSON_ONLY)
    assert first.status_code == 200
    assert first.json()["data"]["matter"]["name"] == "渔港码头经营许可"
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=1")
    again = await api.client.get(guide_url(CODE), headers=JSON_ONLY)
    assert again.content == first.content
    assert again.headers["etag"] == etag
    unchanged = await api.client.get(guide_url(CODE), headers={**JSON_ONLY, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    # Publishing in this process is seen by the next request.
    await publish_guide(api, operator_token, "渔港码头经营许可（新版）")
    fresh = await api.client.get(guide_url(CODE), headers={**JSON_ONLY, "If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["data"]["matter"]["name"] == "渔港码头经营许可（新版）"
    assert fresh.headers["etag"] != etag


async def test_errors_and_unknown_codes_are_not_cached_as_errors(
    api: Api, catalogue: demo.Catalogue
) -> None:
    missing = await api.client.get(guide_url("NOPE"), headers=JSON_ONLY)
    assert missing.status_code == 200
    assert missing.json() == {"data": {"matter": None}}
    bad = await api.client.get(
        f"/graphql?id={GUIDE_ID}&variables={json.dumps({'code': 1})}", headers=JSON_ONLY
    )
    assert "errors" in bad.json()
    assert bad.headers["cache-control"] == "no-store"
    assert "etag" not in bad.headers


@pytest.fixture
async def second_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process on the same database (its own cache, index and version check)."""
    other: FastAPI = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
            yield client


async def test_a_publish_reaches_other_processes_within_the_version_ttl(
    api: Api, operator_token: str, second_process: httpx.AsyncClient
) -> None:
    await publish_guide(api, operator_token, "旧名称")
    seen = await second_process.get(guide_url(CODE), headers=JSON_ONLY)
    assert seen.json()["data"]["matter"]["name"] == "旧名称"
    await publish_guide(api, operator_token, "新名称")
    published_at = time.monotonic()
    # Poll the other process. A request that starts more than the version TTL after the
    # publish must get the new guide (earlier ones may still see the old one).
    # Polls are spaced so the loop stays far below the per-IP rate limit on a fast machine.
    while True:
        started = time.monotonic() - published_at
        response = await second_process.get(guide_url(CODE), headers=JSON_ONLY)
        assert response.status_code == 200, response.text
        name = response.json()["data"]["matter"]["name"]
        if name == "新名称":
            break
        assert started <= VERSION_TTL, f"stale guide served {started:.2f}s after the publish"
        await asyncio.sleep(POLL_INTERVAL)
