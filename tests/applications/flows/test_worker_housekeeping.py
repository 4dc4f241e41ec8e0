"""`zsb worker` runs 申办's housekeeping: an overdue 容缺 case ends without any request."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.settings import Settings
from tests.applications.conftest import SUBMIT, clerk_mutation
from tests.applications.test_followup import property_input
from tests.factories import Api

ROOT = Path(__file__).resolve().parents[3]
ACCEPT = clerk_mutation("acceptApplication", "AcceptApplicationInput")


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZSB_")}
    env.update(
        {
            "ZSB_MONGODB_URI": str(settings.mongodb_uri),
            "ZSB_DATABASE_NAME": settings.database_name,
            "ZSB_DATA_DIR": str(settings.data_dir),
            "ZSB_SECRET_KEY": "test-secret-" + "x" * 40,
            "ZSB_DEMO_DATA": "false",
            "ZSB_DEV_ISSUER": "false",
        }
    )
    command = [sys.executable, "-m", "app.cli", "worker"]
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own CLI


@pytest.mark.slow
async def test_the_worker_ends_a_case_whose_supplement_deadline_passed(
    api: Api, citizen: str, clerk: str
) -> None:
    sub = await api.data(SUBMIT, {"input": property_input("worker-0001")}, citizen)
    app_id = sub["submitApplication"]["application"]["id"]
    await api.data(ACCEPT, {"input": {"applicationId": app_id}}, clerk)
    apps = api.state.db["applications"]
    past = datetime.now(UTC) - timedelta(hours=1)
    await apps.update_one({}, {"$set": {"supplement_due_at": past}})

    worker = _worker(api.state.settings)
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while (await apps.find_one({}))["status"] != "REJECTED":  # type: ignore[index]
            assert asyncio.get_running_loop().time() < deadline, "worker did not end the case"
            assert worker.poll() is None, "the worker exited"
            await asyncio.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    doc = await apps.find_one({})
    assert doc is not None
    assert doc["timeline"][-1]["action"] == "SUPPLEMENT_EXPIRED"
