"""Mixed load on the whole service: uvicorn with several workers on the embedded database.

    python bench/load.py                 # full: 10 minutes of load, 2 workers
    python bench/load.py --quick         # under three minutes: 90 s of load
    python bench/load.py --workers 3 --seconds 300 --rate 80

The service runs as production runs it (`uvicorn --factory app.main:app_factory --workers N`)
against one embedded SecantusDB; this process is the load generator (raw HTTP/1.1 keep-alive
connections from bench/guides.py, light enough not to be the bottleneck). The workload is
open-loop — operations arrive at a fixed rate (Poisson), so each latency is measured at that
throughput — and mixed:

    guide  persisted MatterGuide GET (cacheable public read)         40 %
    search searchMatters POST                                        15 %
    inbox  inbox(first: 10) of a signed-in citizen                   20 %
    qr     createLicenceQr by the holder, then verifyLicenceQr        15 %
           by a traffic officer (timed separately: qr_mint, qr_verify)
    submit submitApplication (个体工商户设立登记, a fresh idempotency key)  10 %

Rate limits: ZSB_RATE_LIMITS=off. The request limits are per user and per IP (600/60 s,
1,200/60 s); one load-generator IP and a few thousand requests per minute would be refused by
design, and the point here is the service's capacity, not its limiter. The domain's own limit
of 10 QR codes per licence per minute stays on (it is not a request-rate limit): the load
spreads minting over HOLDERS licences and never asks for more than that.

Prints `name=value` lines: throughput, p50/p99 per operation, error counts and rate, and the
resident memory (RSS) of the service (uvicorn supervisor + workers) and of the database
at the start of the measured phase and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bson import ObjectId  # noqa: E402
from guides import Connection, free_port, start_server  # noqa: E402
from PIL import Image  # noqa: E402

from app.context import AppState  # noqa: E402
from app.db import ensure_indexes  # noqa: E402
from app.embedded_db import EmbeddedDatabase  # noqa: E402
from app.ids import to_global_id  # noqa: E402
from app.main import build_state, close_state  # noqa: E402
from app.persisted import DEFAULT_DIR, operation_hash  # noqa: E402
from app.ratelimit import RateLimiter  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from app.settings import Settings  # noqa: E402
from auth.identity_numbers import with_check_digit  # noqa: E402
from auth.models import AssuranceLevel, Role, User  # noqa: E402
from auth.permissions import Viewer  # noqa: E402
from auth.store import AuthStore  # noqa: E402
from auth.user_store import UserStore  # noqa: E402
from electronic_cards.service import LicenceSpec  # noqa: E402
from electronic_cards.store import CardsStore  # noqa: E402
from notifications import service as notifications_service  # noqa: E402

DATABASE = "bench_load"
HOLDERS = 400  # citizens with a driving licence each: QR minting spread over them
OFFICER = "13800000101"  # demo verifier, scene TRAFFIC_CHECK
BUSINESS = "3702020100001"  # 个体工商户设立登记 (manual processing)
SECRET = "bench-" + "k" * 40
KEEP_ALIVE = 3.0  # reuse an idle connection only this long (uvicorn closes them after 5 s)
WEIGHTS = {"guide": 40, "search": 15, "inbox": 20, "qr": 15, "submit": 10}
SEARCHES = [
    "个体工商户",
    "gtgsh",
    "身份证",
    "老年证",
    "公租房",
    "不动产",
    "养老保险",
    "食品经营许可",
]

SEARCH = "query S($q: String!) { searchMatters(query: $q, first: 10) { edges { node { code } } } }"
INBOX = "{ inbox(first: 10) { edges { node { id title createdAt } } } }"
MINT = """mutation Q($id: ID!) { createLicenceQr(input: {licenceId: $id, mode: ONLINE}) {
  qr { text } userErrors { code } } }"""
VERIFY = """mutation V($t: String!) { verifyLicenceQr(input: {text: $t, scene: "TRAFFIC_CHECK"}) {
  result userErrors { code } } }"""
SUBMIT = """mutation S($input: SubmitApplicationInput!) { submitApplication(input: $input) {
  application { id status } userErrors { code } } }"""


def _settings(uri: str, data_dir: str) -> Settings:
    return Settings.model_validate(
        {
            "mongodb_uri": uri,
            "database_name": DATABASE,
            "data_dir": data_dir,
            "secret_key": SECRET,
            "demo_data": False,
            "log_level": "WARNING",
        }
    )


async def prepare(uri: str, data_dir: str) -> dict[str, Any]:
    """Demo catalogue and people, HOLDERS citizens with a licence and an inbox message each,
    and access tokens (minted here, before the service starts, like `zsb token`)."""
    state = await build_state(_settings(uri, data_dir))
    try:
        # A fresh database each run; the dropped indexes (the unique status-list slots among
        # them) and the signing keys are made again before anything is written.
        await state.client.drop_database(DATABASE)
        await ensure_indexes(state.db)
        await state.token_keys.ensure(AuthStore(state.db))
        await state.sdl_keys.ensure(CardsStore(state.db))
        await seed_demo(state)
        now = datetime.now(UTC)
        users = [
            User(
                id=ObjectId(),
                phone=f"139{i:08d}",
                roles=(Role.CITIZEN,),
                assurance_level=AssuranceLevel.L3,
                created_at=now,
                name=f"测试{i}",
                region_code="370202",
            )
            for i in range(HOLDERS)
        ]
        await UserStore(state.db, state.keyring).insert_users(users)
        cards, auth = state.cards_service(), state.auth_service()
        holders = []
        for i, user in enumerate(users):
            licence = await cards.issue_licence(
                user.id,
                LicenceSpec(
                    type_code="JDCJSZ",
                    holder_name=f"测试{i}",
                    number=f"3702{i:014d}",
                    issuer="青岛市公安局交通警察支队",
                    issuer_code="370200-JJ",
                    valid_from=date(2024, 1, 1),
                    valid_until=date(2030, 1, 1),
                ),
            )
            await notifications_service.notify(
                state.db,
                user.id,
                "APPLICATION_STATUS_CHANGED",
                {"matter_name": "测试", "receipt_number": "1", "status": "已受理",
                 "application_id": "A"},
                key=f"bench-{i}",
            )  # fmt: skip
            tokens = await auth.open_session_for_phone(user.phone, method="cli")
            holders.append(
                {
                    "token": tokens.access_token,
                    "licence": to_global_id("Licence", licence.id),
                    "files": await _uploads(state, await auth.authenticate(tokens.access_token)),
                }
            )
        officer = await auth.open_session_for_phone(OFFICER, method="cli")
        codes = [
            d["code"] async for d in state.db["matters"].find({"status": "PUBLISHED"}, {"code": 1})
        ]
        return {"holders": holders, "officer": officer.access_token, "codes": codes}
    finally:
        await close_state(state)


async def _uploads(state: AppState, viewer: Viewer) -> list[str]:
    """The holder's three material files, uploaded once (a submission references uploads the
    applicant owns; one upload may back several applications)."""
    service = state.upload_service()
    service.rate = RateLimiter(service.rate.rate, enabled=False)
    refs = []
    for n in range(len(MATERIALS)):
        out = io.BytesIO()
        colour = tuple(hashlib.sha256(f"{viewer.user_id}-{n}".encode()).digest()[:3])
        Image.new("RGB", (8, 8), colour).save(out, "PNG")
        stored = await service.upload(viewer, f"material-{n}.png", _Bytes(out.getvalue()))
        refs.append(to_global_id("Upload", stored.id))
    return refs


class _Bytes:
    """A file part for the upload service called directly (what UploadFile offers)."""

    def __init__(self, content: bytes) -> None:
        self._buffer = io.BytesIO(content)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def _form(i: int) -> dict[str, Any]:
    return {
        "businessName": f"青岛市南区测试小吃店{i}",
        "operatorName": "张三明",
        "idNumber": with_check_digit("37020219850615123"),
        "phone": "13800000001",
        "businessScope": "小吃服务",
        "address": "青岛市市南区香港中路1号",
    }


MATERIALS = ["个体工商户登记（备案）申请书", "经营者身份证明", "经营场所使用证明"]  # uploads


class Workload:
    def __init__(self, port: int, fixtures: dict[str, Any], seed: int) -> None:
        self.port = port
        self.holders: list[dict[str, Any]] = fixtures["holders"]
        self.officer: str = fixtures["officer"]
        digest = operation_hash((DEFAULT_DIR / "MatterGuide.graphql").read_text("utf-8"))
        self.guides = [
            f"/graphql?id={digest}&variables={quote(json.dumps({'code': c}))}"
            for c in fixtures["codes"]
        ]
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: dict[str, str] = {}
        self.mint_turn = 0
        self.submitted = 0
        self.shed = 0

    async def _gql(
        self, conn: Connection, name: str, query: str, variables: dict[str, Any], token: str | None
    ) -> dict[str, Any] | None:
        body = json.dumps({"query": query, "variables": variables}).encode()
        started = time.perf_counter()
        status, payload = await conn.request("POST", "/graphql", body, token)
        self.latencies[name].append(time.perf_counter() - started)
        data = json.loads(payload) if payload else {}
        if status != 200 or data.get("errors"):
            self.errors[name] += 1
            self.samples.setdefault(name, payload[:300].decode("utf-8", "replace"))
            return None
        return dict(data["data"])

    async def one(self, conn: Connection, op: str) -> None:
        if op == "guide":
            started = time.perf_counter()
            status, payload = await conn.request("GET", self.rng.choice(self.guides))
            self.latencies["guide"].append(time.perf_counter() - started)
            if status != 200 or b'"errors"' in payload:
                self.errors["guide"] += 1
                self.samples.setdefault("guide", payload[:300].decode("utf-8", "replace"))
        elif op == "search":
            await self._gql(conn, "search", SEARCH, {"q": self.rng.choice(SEARCHES)}, None)
        elif op == "inbox":
            await self._gql(conn, "inbox", INBOX, {}, self.rng.choice(self.holders)["token"])
        elif op == "qr":
            # Round-robin over the holders: each licence is asked for a code at most every
            # HOLDERS / (QR rate) seconds, well inside the 10-per-minute domain limit.
            holder = self.holders[self.mint_turn % len(self.holders)]
            self.mint_turn += 1
            minted = await self._gql(
                conn, "qr_mint", MINT, {"id": holder["licence"]}, holder["token"]
            )
            if minted is None:
                return
            if minted["createLicenceQr"]["userErrors"]:
                self.errors["qr_mint"] += 1
                self.samples.setdefault("qr_mint", str(minted)[:300])
                return
            text = minted["createLicenceQr"]["qr"]["text"]
            verified = await self._gql(conn, "qr_verify", VERIFY, {"t": text}, self.officer)
            if verified is not None and verified["verifyLicenceQr"]["result"] != "VALID":
                self.errors["qr_verify"] += 1
                self.samples.setdefault("qr_verify", str(verified)[:300])
        elif op == "submit":
            self.submitted += 1
            holder = self.rng.choice(self.holders)
            request = {
                "matterCode": BUSINESS,
                "idempotencyKey": f"load-{os.getpid()}-{self.submitted:08d}",
                "form": _form(self.submitted),
                "materials": [
                    {"name": name, "provision": "UPLOAD", "reference": ref}
                    for name, ref in zip(MATERIALS, holder["files"], strict=True)
                ],
            }
            done = await self._gql(conn, "submit", SUBMIT, {"input": request}, holder["token"])
            if done is not None and done["submitApplication"]["userErrors"]:
                self.errors["submit"] += 1
                self.samples.setdefault("submit", str(done)[:300])

    async def run(self, seconds: float, rate: float, max_in_flight: int) -> float:
        """Open loop: operations arrive at `rate` per second (Poisson), whatever the answers'
        speed, so latencies are measured at that throughput instead of setting it. Arrivals
        finding `max_in_flight` operations already running are counted as shed."""
        ops = [op for op, weight in WEIGHTS.items() for _ in range(weight)]
        idle: list[tuple[float, Connection]] = []
        running: set[asyncio.Task[None]] = set()

        def connection() -> Connection:
            while idle:
                last_used, conn = idle.pop()
                if time.monotonic() - last_used < KEEP_ALIVE:
                    return conn
                if conn.writer is not None:
                    conn.writer.close()  # uvicorn may have closed it already: not reused
            return Connection(self.port)

        async def one(op: str) -> None:
            conn = connection()
            try:
                await self.one(conn, op)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                self.errors[f"{op}_transport"] += 1
                self.samples.setdefault(f"{op}_transport", repr(exc))
                return  # a broken connection is dropped, not reused
            idle.append((time.monotonic(), conn))

        started = time.monotonic()
        next_at = started
        while (now := time.monotonic()) < started + seconds:
            if now < next_at:
                await asyncio.sleep(next_at - now)
            next_at += self.rng.expovariate(rate)
            if len(running) >= max_in_flight:
                self.shed += 1
                continue
            task = asyncio.create_task(one(self.rng.choice(ops)))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.wait(running)
        return time.monotonic() - started


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` and all its descendants (KiB), from /proc."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:"))
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


async def main_async(seconds: float, workers: int, rate: float, max_in_flight: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        t0 = time.monotonic()
        fixtures = await prepare(db.uri, tmp)
        print(f"prepare_seconds={time.monotonic() - t0:.1f}")
        env = {
            **os.environ,
            "ZSB_MONGODB_URI": db.uri,
            "ZSB_DATABASE_NAME": DATABASE,
            "ZSB_DATA_DIR": tmp,
            "ZSB_DEMO_DATA": "false",
            "ZSB_DEV_ISSUER": "false",
            "ZSB_RATE_LIMITS": "off",
            "ZSB_LOG_LEVEL": "WARNING",
            "ZSB_SECRET_KEY": SECRET,
        }
        port = free_port()
        server = start_server(
            ["app.main:app_factory", "--factory", "--workers", str(workers)], env, port
        )
        try:
            warm = Workload(port, fixtures, seed=1)
            warm.mint_turn = HOLDERS // 2  # the warm-up mints from the other half of the licences
            await warm.run(min(15.0, seconds / 6), rate, max_in_flight)
            if warm.errors:
                print(f"warmup_errors={dict(warm.errors)} sample={warm.samples}")
            assert db.process is not None
            service_start, db_start = rss_kib(server.pid), rss_kib(db.process.pid)
            load = Workload(port, fixtures, seed=2)
            elapsed = await load.run(seconds, rate, max_in_flight)
            service_end, db_end = rss_kib(server.pid), rss_kib(db.process.pid)
        finally:
            server.terminate()
            server.wait(30)
    total = sum(len(v) for v in load.latencies.values())
    errors = sum(load.errors.values()) + load.shed  # an arrival the service could not take
    print(f"workers={workers}")
    print(f"target_rate_rps={rate:.1f}")
    print(f"shed={load.shed}")
    print(f"seconds={elapsed:.1f}")
    print(f"requests={total}")
    print(f"throughput_rps={total / elapsed:.1f}")
    print(f"errors={errors}")
    print(f"error_rate={errors / max(total + load.shed, 1):.5f}")
    for name in ("guide", "search", "inbox", "qr_mint", "qr_verify", "submit"):
        values = load.latencies.get(name, [])
        print(f"{name}_count={len(values)}")
        print(f"{name}_rps={len(values) / elapsed:.1f}")
        print(f"{name}_p50_ms={percentile(values, 0.5):.2f}")
        print(f"{name}_p99_ms={percentile(values, 0.99):.2f}")
        print(f"{name}_errors={load.errors.get(name, 0)}")
    for name, sample in load.samples.items():
        print(f"{name}_error_sample={sample!r}")
    print(f"service_rss_start_mib={service_start / 1024:.1f}")
    print(f"service_rss_end_mib={service_end / 1024:.1f}")
    print(f"service_rss_growth_pct={100 * (service_end - service_start) / service_start:.1f}")
    print(f"db_rss_start_mib={db_start / 1024:.1f}")
    print(f"db_rss_end_mib={db_end / 1024:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="90 s of load (under 3 minutes)")
    parser.add_argument("--seconds", type=float, default=None, help="measured load phase")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second")
    parser.add_argument("--max-in-flight", type=int, default=64, help="shed arrivals beyond")
    args = parser.parse_args()
    seconds = args.seconds or (90.0 if args.quick else 600.0)
    asyncio.run(main_async(seconds, args.workers, args.rate, args.max_in_flight))


if __name__ == "__main__":
    main()
