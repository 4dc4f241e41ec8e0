"""The consoles' static pages over HTTP: served with their own strict policy, no inline code."""

from __future__ import annotations

import re

import pytest

from consoles.http import STATIC
from tests.factories import Api

PAGES = ["/console/", "/verify/"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_are_served_with_a_strict_policy(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    camera = "camera=(self)" if path == "/verify/" else "camera=()"
    assert camera in response.headers["permissions-policy"]


async def test_assets_and_the_service_worker(api: Api) -> None:
    worker = await api.client.get("/verify/sw.js")
    assert worker.status_code == 200
    assert "javascript" in worker.headers["content-type"]
    assert worker.headers["service-worker-allowed"] == "/verify/"
    for asset in ("/web/sdl1.js", "/web/vendor/jsQR.js", "/web/base.css", "/console/queue.js"):
        assert (await api.client.get(asset)).status_code == 200, asset
    assert (await api.client.get("/web/../app/settings.py")).status_code == 404
    bare = await api.client.get("/console")
    assert bare.status_code in (307, 308)
    assert bare.headers["location"].endswith("/console/")
    assert (await api.client.get("/console/no-such-file.js")).status_code == 404


def test_no_inline_scripts_styles_or_handlers() -> None:
    """The CSP forbids them, so none may be written: they would silently not run."""
    for page in STATIC.rglob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), page
