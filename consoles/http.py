"""The browser consoles (`/console/` for operators, clerks and admins; `/verify/` for verifiers).

Plain static files — HTML, ES modules, CSS and one vendored library (jsQR) — served as they are:
no build step, nothing to install beyond the Python package. Each response carries the page's
own strict Content-Security-Policy (scripts and styles only from this origin, no inline code);
`SecurityHeaders` adds the rest and keeps these.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
NO_CAMERA = "camera=(), microphone=(), geolocation=()"
CAMERA = "camera=(self), microphone=(), geolocation=()"


class ConsoleFiles(StaticFiles):
    """StaticFiles with the pages' headers; `no-cache` so a new release is seen at once (the
    browser revalidates with ETag, the verifier's service worker keeps its own copy offline)."""

    def __init__(self, directory: Path, *, permissions: str = NO_CAMERA) -> None:
        super().__init__(directory=directory, html=True)
        self.permissions = permissions

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["content-security-policy"] = CSP
        response.headers["permissions-policy"] = self.permissions
        response.headers["cache-control"] = "no-cache"
        if path.endswith("sw.js"):
            response.headers["service-worker-allowed"] = "/verify/"
        return response


def mount_consoles(app: FastAPI) -> None:
    app.mount("/console", ConsoleFiles(STATIC / "console"), name="console")
    app.mount("/verify", ConsoleFiles(STATIC / "verify", permissions=CAMERA), name="verify")
    app.mount("/web", ConsoleFiles(STATIC / "common"), name="web")
