"""Browser tests: the real service under uvicorn (demo data), Debian's Chromium through
Playwright, the loopback FCM stand-in and `zsb worker` processes.

One server and one browser per module keep the run short; each test opens its own browser
context (a fresh profile: its own sessionStorage, caches and service workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from app.context import AppState
from app.main import create_app
from auth.store import AuthStore
from tests.conftest import ThreadedServer, loopback_socket, make_settings
from tests.notifications.fcm_standin import FcmStandIn

ROOT = Path(__file__).resolve().parents[2]
# Committed pictures of each screen (docs/consoles.md shows them); redirect with the variable.
SCREENSHOTS = Path(os.environ.get("ZSB_SCREENSHOTS_DIR", ROOT / "docs" / "screenshots"))
CHROMIUM = os.environ.get("ZSB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The camera: a file played as the webcam, permission granted without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
T = TypeVar("T")


@dataclass
class Live:
    """The running service: its URL, its state, and a way to run coroutines on its loop."""

    url: str
    state: AppState
    loop: asyncio.AbstractEventLoop
    settings_env: dict[str, str]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def sms_code(self, phone: str) -> str:
        doc = self.run(AuthStore(self.state.db).latest_dev_sms(phone))
        assert doc is not None, f"no SMS recorded for {phone}"
        match = re.search(r"(\d{6})", doc["text"])
        assert match
        return match.group(1)

    def token(self, phone: str) -> str:
        """An API session without the SMS flow (what `zsb token` does)."""
        tokens = self.run(self.state.auth_service().open_session_for_phone(phone, method="test"))
        return tokens.access_token

    def gql(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="module")
def fcm_standin() -> Iterator[FcmStandIn]:
    standin = FcmStandIn(delay=0.02)  # a little latency, so the progress chart has a slope
    sock = loopback_socket()
    standin.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ThreadedServer(standin.app, sock=sock):
        yield standin


@pytest.fixture(scope="module")
def live(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory, fcm_standin: FcmStandIn
) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("consoles")
    credentials = fcm_standin.service_account(data_dir / "service-account.json")
    # Rate limits are tested elsewhere; here a console polling every second must not meet them.
    settings = make_settings(mongo_uri, data_dir, demo_data=True, rate_limits="off", quiet_hours="")
    app = create_app(settings)
    loops: list[asyncio.AbstractEventLoop] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            loops.append(asyncio.get_running_loop())
        await app(scope, receive, send)

    with ThreadedServer(asgi, lifespan="on") as server:
        env = {
            "ZSB_MONGODB_URI": str(settings.mongodb_uri),
            "ZSB_DATABASE_NAME": settings.database_name,
            "ZSB_DATA_DIR": str(data_dir),
            "ZSB_SECRET_KEY": "test-secret-" + "x" * 40,
            "ZSB_DEMO_DATA": "false",
            "ZSB_DEV_ISSUER": "false",
            "ZSB_FCM_CREDENTIALS": str(credentials),
            "ZSB_FCM_ENDPOINT": fcm_standin.base_url,
            "ZSB_QUIET_HOURS": "",  # the real clock may well be in Qingdao's night
        }
        live = Live(server.url, app.state.zsb, loops[0], env)
        yield live
        live.run(live.state.client.drop_database(settings.database_name))


@contextlib.contextmanager
def zsb_worker(live: Live) -> Iterator[subprocess.Popen[bytes]]:
    """A `zsb worker` process delivering pushes, as in production."""
    command = [sys.executable, "-m", "app.cli", "worker", "--chunk-size", "10"]
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        command, cwd=ROOT, env={**os.environ, **live.settings_env}
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(15)


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the fake webcam reads its video; a test writes it before opening the camera."""
    return tmp_path_factory.mktemp("camera") / "qr.y4m"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(
    playwright: Playwright, camera_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera_file}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield browser
    browser.close()


def new_page(browser: Browser, live: Live, *, width: int = 1280, height: int = 900) -> Page:
    context = browser.new_context(
        base_url=live.url,
        viewport={"width": width, "height": height},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["camera"],
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in(page: Page, live: Live, phone: str) -> None:
    page.get_by_label("手机号码").fill(phone)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("验证码已发送").wait_for()
    page.get_by_label("短信验证码").fill(live.sms_code(phone))
    page.get_by_role("button", name="登录", exact=True).click()
    page.locator("#sign-out").wait_for(state="visible")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)
