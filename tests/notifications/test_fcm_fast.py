"""The lean FCM stand-in bench/fanout.py uses answers firebase-admin like the Starlette one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bson import ObjectId

from notifications.providers.base import Outcome, PushMessage
from notifications.providers.fcm import FcmProvider
from tests.conftest import loopback_socket

ROOT = Path(__file__).resolve().parents[2]


async def test_the_lean_stand_in_speaks_fcm_v1_to_firebase_admin(tmp_path: Path) -> None:
    with loopback_socket() as sock:
        port = sock.getsockname()[1]
    credentials = tmp_path / "sa.json"
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "tests.notifications.fcm_fast", "--port", str(port)]
    argv += ["--credentials", str(credentials), "--processes", "1"]
    # Start-up of a helper process: fixed argv, no shell; nothing to wait for here.
    process = subprocess.Popen(argv, cwd=ROOT)  # noqa: S603, ASYNC220
    try:
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient() as http:
            while True:
                assert process.poll() is None, "stand-in exited"
                assert time.monotonic() < deadline, "stand-in did not start"
                try:
                    if (await http.get(url + "/stats")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # polling a start-up condition with a deadline
            provider = await FcmProvider.create(credentials, url, http_timeout=5)
            try:
                tokens = ["ok-" + "a" * 30, "unreg-" + "b" * 30, "invalid-" + "c" * 30]
                results = await provider.send(
                    [PushMessage(ObjectId(), t, "标题", "正文", None, "POLICY") for t in tokens]
                )
            finally:
                await provider.aclose()
            stats = (await http.get(url + "/stats")).json()
    finally:
        process.terminate()
        process.wait(10)
    assert [r.outcome for r in results] == [
        Outcome.ACCEPTED,
        Outcome.UNREGISTERED,
        Outcome.UNREGISTERED,  # a token FCM cannot parse is dead too
    ]
    assert stats == {"accepted": 1}
