"""`zsb serve` gets SIGTERM under load: every request it accepted is answered in full, new
connections are refused, the embedded database stops after the last request, and every
acknowledged submission is in the database afterwards.

The in-flight requests are made slow by their clients: each submission's body is sent in
pieces over about two seconds, so SIGTERM lands while they are certainly being received.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from app.embedded_db import EmbeddedDatabase
from auth.identity_numbers import with_check_digit
from tests.app.test_cli import Serving, _alive, _zsb
from tests.applications.conftest import ELDER, SUBMIT, elder_input
from tests.applications.uploading import UPLOAD, png

SLOW = 6  # submissions in flight at SIGTERM
GUIDE = {"query": '{ matter(code: "3702031100053") { name } }'}


async def _slow_body(
    body: bytes, started: asyncio.Event, go_on: asyncio.Event
) -> AsyncIterator[bytes]:
    half = len(body) // 2
    yield body[:half]
    started.set()
    await go_on.wait()  # the rest only after SIGTERM has been sent
    for i in range(half, len(body), 64):
        await asyncio.sleep(0.05)
        yield body[i : i + 64]


async def _own_materials(url: str, token: str) -> list[dict[str, Any]]:
    """The elder's 居民身份证 from the wallet and a photo uploaded now (references are checked)."""
    auth = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        licences = await client.post(
            f"{url}/graphql", json={"query": "{ myLicences { id type { code } } }"}, headers=auth
        )
        card = next(
            lic["id"]
            for lic in licences.json()["data"]["myLicences"]
            if lic["type"]["code"] == "JMSFZ"
        )
        operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
        uploaded = await client.post(
            f"{url}/graphql",
            data={"operations": json.dumps(operations), "map": '{"0": ["variables.input.file"]}'},
            files={"0": ("photo.png", png("shutdown"), "image/png")},
            headers={**auth, "apollo-require-preflight": "true"},
        )
        photo = uploaded.json()["data"]["uploadMaterial"]["upload"]["id"]
    return [
        {"name": "居民身份证", "provision": "LICENCE", "reference": card},
        {"name": "近期免冠照片", "provision": "UPLOAD", "reference": photo},
    ]


async def _submit_slowly(
    url: str,
    token: str,
    key: str,
    started: asyncio.Event,
    go_on: asyncio.Event,
    materials: list[dict[str, Any]],
) -> httpx.Response:
    sub = {**elder_input(key, ELDER_ID), "materials": materials}
    body = json.dumps({"query": SUBMIT, "variables": {"input": sub}})
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{url}/graphql",
            content=_slow_body(body.encode(), started, go_on),
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
                "content-length": str(len(body.encode())),
            },
        )


ELDER_ID = with_check_digit("37020319580908782")


async def _reads(url: str, rounds: int) -> list[int]:
    """Load before the signal: quick public reads on one keep-alive connection."""
    async with httpx.AsyncClient(timeout=10) as client:
        return [
            (await client.post(f"{url}/graphql", json=GUIDE)).status_code for _ in range(rounds)
        ]


async def _refused(url: str) -> bool:
    """A new request is not served: refused outright, or (accepted by the kernel while uvicorn
    closes its listener) closed without an answer."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.get(f"{url}/healthz")
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
        return True
    return False


@pytest.mark.slow
async def test_sigterm_under_load_finishes_in_flight_requests_and_loses_no_write(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    serving = Serving(data_dir)
    try:
        db_pid = json.loads((data_dir / "db.uri").read_text())["pid"]
        minted = _zsb("token", "--phone", ELDER, env=serving.env)
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        materials = await _own_materials(serving.url, token)
        started = [asyncio.Event() for _ in range(SLOW)]
        go_on = asyncio.Event()
        slow = [
            asyncio.create_task(
                _submit_slowly(
                    serving.url, token, f"shutdown-{i:04d}", started[i], go_on, materials
                )
            )
            for i in range(SLOW)
        ]
        reads = await asyncio.gather(*(_reads(serving.url, 20) for _ in range(3)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 30)
        # A request on a connection opened after theirs is answered: the server has accepted
        # (and, callbacks running in order, read) the slow ones. A connection still in the
        # kernel's accept queue at SIGTERM would be reset, not "in flight" — the runbook takes
        # an instance out of the load balancer before stopping it for that reason.
        assert await _reads(serving.url, 1) == [200]
        serving.process.send_signal(signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + 20
        while not await _refused(serving.url):  # new connections refused from now on
            assert asyncio.get_running_loop().time() < deadline, "still accepting after SIGTERM"
            await asyncio.sleep(0.05)
        go_on.set()  # the slow clients send the rest of their bodies only now
        answers = await asyncio.wait_for(asyncio.gather(*slow), 30)
        code = await asyncio.to_thread(serving.process.wait, 30)
    finally:
        if serving.process.poll() is None:
            serving.process.kill()
            serving.process.wait()

    for answer in answers:  # every in-flight submission answered in full
        assert answer.status_code == 200, answer.text
        payload = answer.json()
        assert payload["data"]["submitApplication"]["application"]["status"] == "APPROVED", payload
    assert {status for statuses in reads for status in statuses} == {200}
    assert code == 0
    assert not _alive(db_pid), "the embedded database outlived the service"
    assert '"msg": "service stopped"' in serving.log.read_text()

    # Everything acknowledged is on disk: open the data again without the service.
    with EmbeddedDatabase(data_dir / "db", log_path=tmp_path / "check.log") as db:
        client: MongoClient[dict[str, Any]]
        with MongoClient(db.uri) as client:
            keys = client["zsb"]["applications"].distinct("idempotency_key")
    assert sorted(k for k in keys if k.startswith("shutdown-")) == [
        f"shutdown-{i:04d}" for i in range(SLOW)
    ]
