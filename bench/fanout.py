"""Campaign fan-out through `zsb worker` vs firebase-admin's send_each_async alone.

Both push the same messages to the same loopback FCM-compatible server (its own process), in
the same run: the ratio is what the outbox, leases, inbox copies, caps and bookkeeping cost.

    python bench/fanout.py            # 100,000 devices (slow on a small machine)
    python bench/fanout.py --quick    # a few thousand, under three minutes

Prints name=value lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from firebase_admin import messaging
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db import ensure_indexes  # noqa: E402
from app.embedded_db import EmbeddedDatabase  # noqa: E402
from app.keyring import Keyring  # noqa: E402
from auth.models import AssuranceLevel, Role, User  # noqa: E402
from auth.permissions import Viewer  # noqa: E402
from auth.user_store import UserStore  # noqa: E402
from notifications.campaigns import CampaignDraft, CampaignService  # noqa: E402
from notifications.models import Category, Target  # noqa: E402
from notifications.providers.base import PushMessage  # noqa: E402
from notifications.providers.fcm import POOL_SIZE, FcmProvider, _to_fcm  # noqa: E402
from notifications.store import NotificationStore  # noqa: E402

FCM_DEFAULT_PER_MINUTE = 600_000


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to compare work, not wall time:
    on a shared 2-core machine the wall-clock rates move with whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError("FCM stand-in exited")
            try:
                if (await http.get(url + "/stats")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("FCM stand-in did not start")


async def _accepted(url: str) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(url + "/stats")).json()["accepted"])


BENCH_SECRET = "bench-secret-" + "x" * 40


async def seed(db: AsyncDatabase[dict[str, Any]], n: int) -> list[Viewer]:
    now = datetime.now(UTC)
    user_store = UserStore(db, Keyring.from_master(BENCH_SECRET.encode()))
    users = [
        User(
            ObjectId(), f"139{i:08d}", (Role.CITIZEN,), AssuranceLevel.L2, now, region_code="370211"
        )
        for i in range(n)
    ]
    operators = [
        User(ObjectId(), f"1370000000{i}", (Role.OPERATOR,), AssuranceLevel.L3, now) for i in (1, 2)
    ]
    for start in range(0, n, 10_000):
        await user_store.insert_users(users[start : start + 10_000])
        await NotificationStore(db).insert_devices(
            [
                {
                    "provider": "FCM",
                    "token": f"bench-{u.id}-{'t' * 100}",
                    "user_id": u.id,
                    "platform": "ANDROID",
                    "enabled": True,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for u in users[start : start + 10_000]
            ]
        )
    await user_store.insert_users(operators)
    return [Viewer(u.id, "bench", frozenset(u.roles), u.assurance_level) for u in operators]


async def raw_rate(credentials: Path, endpoint: str, n: int) -> tuple[float, float]:
    """send_each_async alone, in the same slices of 100 the provider uses."""
    provider = await FcmProvider.create(credentials, endpoint)
    msgs = [
        _to_fcm(
            PushMessage(
                ObjectId(), f"raw-{i}-{'t' * 120}", "稳岗补贴", "正文", "zsb://p/1", "POLICY"
            )
        )
        for i in range(n)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, n, POOL_SIZE):
        batch = await messaging.send_each_async(msgs[i : i + POOL_SIZE], app=provider.app)
        assert batch.failure_count == 0, batch.responses[0].exception
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await provider.aclose()
    return n / elapsed, cpu


def start_worker(
    uri: str, db_name: str, credentials: Path, endpoint: str, data: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ZSB_MONGODB_URI": uri,
        "ZSB_DATABASE_NAME": db_name,
        "ZSB_DATA_DIR": str(data),
        "ZSB_SECRET_KEY": BENCH_SECRET,
        "ZSB_DEMO_DATA": "false",
        "ZSB_DEV_ISSUER": "false",
        "ZSB_FCM_CREDENTIALS": str(credentials),
        "ZSB_FCM_ENDPOINT": endpoint,
        "ZSB_QUIET_HOURS": "",
    }
    prefix = os.environ.get("ZSB_BENCH_WORKER_PREFIX", sys.executable).split()
    return subprocess.Popen(
        # ZSB_BENCH_WORKER_PREFIX runs the worker under a profiler, e.g.
        # "python -m pyinstrument -r text -o prof.txt" (the worker exits cleanly on SIGTERM).
        [*prefix, "-m", "app.cli", "worker", "--concurrency", "4"],
        cwd=ROOT,
        env=env,
    )


async def main(n: int, workers: int, standin_processes: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="zsb-bench-"))
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = tmp / "sa.json"
    # Start-up only, not timed: a blocking Popen here holds nothing up.
    standin = subprocess.Popen(  # noqa: ASYNC220
        [
            sys.executable,
            "-m",
            "tests.notifications.fcm_fast",
            "--port",
            str(port),
            "--credentials",
            str(credentials),
            "--processes",
            str(standin_processes),
        ],
        cwd=ROOT,
    )
    try:
        with EmbeddedDatabase(None, log_path=tmp / "db.log") as database:
            await _wait_ready(endpoint, standin)
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database.uri, tz_aware=True)
            db = client["bench"]
            await ensure_indexes(db)
            creator, checker = await seed(db, n)

            raw_per_s, raw_cpu = await raw_rate(credentials, endpoint, n)

            procs = [
                start_worker(database.uri, "bench", credentials, endpoint, tmp)
                for _ in range(workers)
            ]
            try:
                await asyncio.sleep(0)
                campaigns = CampaignService(db, Keyring.from_master(BENCH_SECRET.encode()))
                campaign = await campaigns.create(
                    creator,
                    CampaignDraft(
                        "稳岗补贴免申即享",
                        "符合条件的企业无需申请。",
                        "zsb://p/1",
                        Category.POLICY,
                        Target(all=True),
                    ),
                )
                before = await _accepted(endpoint)
                # Workers are started before approval so their start-up is not timed.
                await asyncio.sleep(3)
                assert database.process is not None
                measured = [p.pid for p in procs] + [database.process.pid]
                cpu_before = [_cpu_seconds(pid) for pid in measured]
                started = time.perf_counter()
                await campaigns.approve(checker, campaign.id)
                while True:
                    doc = await db["notification_campaigns"].find_one({"_id": campaign.id})
                    if doc and doc["status"] == "DONE":
                        break
                    await asyncio.sleep(0.1)
                elapsed = time.perf_counter() - started
                cpu_used = [_cpu_seconds(p) - b for p, b in zip(measured, cpu_before, strict=True)]
                fanout_cpu, db_cpu = sum(cpu_used), cpu_used[-1]
                pushed = await _accepted(endpoint) - before
                stats = await campaigns.stats(await campaigns.get(checker, campaign.id))
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(30)
            await client.close()
    finally:
        standin.terminate()
        standin.wait(10)
    fanout_per_s = stats.sent / elapsed
    print(f"devices={n}")
    print(f"workers={workers}")
    print(f"raw_send_per_s={raw_per_s:.0f}")
    print(f"fanout_deliveries_per_s={fanout_per_s:.0f}")
    print(f"fanout_vs_raw_send={fanout_per_s / raw_per_s:.2f}")
    # CPU per message: the raw loop's process against the worker(s) plus the database, which
    # does the outbox's writes (the stand-in's CPU is left out of both).
    print(f"raw_cpu_ms_per_msg={raw_cpu / n * 1000:.2f}")
    print(f"fanout_cpu_ms_per_msg={fanout_cpu / stats.sent * 1000:.2f}")
    print(f"fanout_db_cpu_ms_per_msg={db_cpu / stats.sent * 1000:.2f}")
    print(f"fanout_vs_raw_cpu={raw_cpu / fanout_cpu * stats.sent / n:.2f}")
    print(f"fanout_seconds={elapsed:.1f}")
    print(f"fanout_inbox_copies={stats.inboxed}")
    print(f"fanout_sent={stats.sent}")
    print(f"fanout_failed={stats.failed}")
    print(f"provider_accepted={pushed}")
    per_worker_per_min = fanout_per_s / workers * 60
    print(f"workers_for_fcm_default_quota={FCM_DEFAULT_PER_MINUTE / per_worker_per_min:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--standin-processes", type=int, default=1)
    args = parser.parse_args()
    n = args.devices or (3_000 if args.quick else 100_000)
    asyncio.run(main(n, args.workers, args.standin_processes))
