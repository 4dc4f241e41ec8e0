"""`zsb` as a newcomer and an operator use it: serve with the embedded database, token, keys."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from app.schema import export_sdl

ME = {"query": "{ me { phone name roles } }"}


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZSB_")}
    env.update({"ZSB_DATA_DIR": str(data_dir), "ZSB_LOG_LEVEL": "INFO"})
    return env


def _zsb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Serving:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "serve.log"
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        self.env = _env(data_dir)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
                env=self.env,
                stdout=out,
                stderr=out,
            )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 90
        pattern = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
        while time.monotonic() < deadline:
            match = pattern.search(self.log.read_bytes()[self.offset :].decode())
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"zsb serve exited early:\n{self.log.read_text()}")
            time.sleep(0.1)  # polling a log file for start-up, not hiding a race
        raise AssertionError("zsb serve did not start in time")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_seeds_keeps_data_across_restarts_and_stops_cleanly(data_dir: Path) -> None:
    first = Serving(data_dir)
    try:
        assert httpx.get(f"{first.url}/readyz").status_code == 200
        db_pid = json.loads((data_dir / "db.uri").read_text())["pid"]
        minted = _zsb("token", "--phone", "13800000001", env=first.env)
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        me = httpx.post(
            f"{first.url}/graphql", json=ME, headers={"authorization": f"Bearer {token}"}
        ).json()
        assert me["data"]["me"] == {"phone": "138****0001", "name": "张*明", "roles": ["CITIZEN"]}
        rotated = _zsb("keys", "rotate", env=first.env)
        assert rotated.returncode == 0, rotated.stderr
        kid = re.search(r"access-token signing key: (\w+)", rotated.stdout).group(1)  # type: ignore[union-attr]
        # Nothing to move without a rotated master secret: every phase finds its data current.
        resealed = _zsb("keys", "reseal", env=first.env)
        assert resealed.returncode == 0, resealed.stderr
        assert json.loads(resealed.stdout)["complete"] is True
        uri = json.loads((data_dir / "db.uri").read_text())["uri"]
        client: MongoClient[dict[str, Any]]
        with MongoClient(uri) as client:
            audit = client["zsb"]["audit_events"].find_one({"action": "auth.keys.rotate"})
            qr_audit = client["zsb"]["audit_events"].find_one(
                {"action": "electronic_cards.keys.rotate"}
            )
        assert audit is not None
        assert audit["target"] == kid
        assert qr_audit is not None
    finally:
        code = first.stop()
    assert code == 0
    assert not _alive(db_pid), "the embedded database outlived the service"
    assert not (data_dir / "db.uri").exists()
    logs = first.log.read_text()
    assert '"msg": "service stopped"' in logs

    second = Serving(data_dir)  # same data directory: users, keys and sessions survived
    try:
        me = httpx.post(
            f"{second.url}/graphql", json=ME, headers={"authorization": f"Bearer {token}"}
        ).json()
        assert me["data"]["me"]["phone"] == "138****0001"
        unknown = _zsb("token", "--phone", "13999999999", env=second.env)
        assert unknown.returncode == 1
        assert "UNKNOWN_USER" in unknown.stderr
    finally:
        assert second.stop() == 0


def test_zsb_schema_prints_the_sdl(tmp_path: Path) -> None:
    done = _zsb("schema", env=_env(tmp_path))
    assert done.returncode == 0
    assert done.stdout == export_sdl()


def test_dev_sms_shows_the_recorded_code(data_dir: Path) -> None:
    serving = Serving(data_dir)
    try:
        request = 'mutation { requestLoginCode(input: {phone: "13800000002"}) { __typename } }'
        httpx.post(f"{serving.url}/graphql", json={"query": request})
        shown = _zsb("dev", "sms", "--phone", "13800000002", env=serving.env)
        assert shown.returncode == 0
        assert re.search(r"验证码为\d{6}", shown.stdout)
    finally:
        assert serving.stop() == 0
