"""申办 end to end: submitApplication with two small uploads, against raw `insert_one` on the
same database, and 秒批 latency.

    python bench/submit.py            # full: 120 s of load in 8 s segments, 400 秒批 samples
    python bench/submit.py --quick    # under three minutes: 40 s of load, 150 samples

The API runs under real uvicorn (one worker; `--workers N` for more) on 127.0.0.1 against an
embedded SecantusDB; this process seeds the catalogue, users and tokens through the service
layer, then drives the API with raw HTTP/1.1 keep-alive connections (multipart bodies built by
hand: the client stays light). A *submission* is 个体工商户设立登记 with three materials and two
distinct small PNGs, made the two ways a phone can:

- `submit_with_two_uploads_per_s` (the headline `submit_vs_raw_insert`): one multipart
  `submitApplication` carrying both files (applications/uploads/inline.py);
- `separate_uploads_per_s`: an `uploadMaterial` request per file, then `submitApplication`
  referencing them (three requests).

The baseline is `insert_one` of an application-sized document into the same database through
the same driver, with the same number of concurrent clients, in the same run, with retryable
writes off. Why off: SecantusDB records every retryable write for replay and, once 10,000 are
recorded (30 minutes' worth), sorts them on every write, so a retryable `insert_one` slows from
~1,600/s to under 100/s as a run goes on (`raw_retryable_insert_one_first/last_per_s` show it),
and a ratio against it would measure how long the run was. The API itself writes in
transactions, which are not recorded. `db_floor_per_s` replays one submission's own database
work (its two reads and its one transaction) straight through the driver
(bench/submit_floor.py): what a submission could reach here if the API cost nothing.
Everything shares this machine's two cores (server, database, client), so read the ratios,
not the absolute rates. Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bson import ObjectId  # noqa: E402
from guides import Connection, free_port, start_server  # noqa: E402
from pymongo import AsyncMongoClient  # noqa: E402
from pymongo.asynchronous.collection import AsyncCollection  # noqa: E402
from submit_floor import SubmissionReplay  # noqa: E402

from app.context import AppState  # noqa: E402
from app.db import Document  # noqa: E402
from app.embedded_db import EmbeddedDatabase  # noqa: E402
from app.ids import to_global_id  # noqa: E402
from app.main import build_state, close_state  # noqa: E402
from app.seed import DEMO_USERS  # noqa: E402
from app.settings import Settings  # noqa: E402
from auth.identity_numbers import with_check_digit  # noqa: E402
from auth.models import AssuranceLevel, Role  # noqa: E402
from auth.service import UserSpec  # noqa: E402
from electronic_cards.demo import seed_demo_licences  # noqa: E402
from matters import demo  # noqa: E402
from matters.service import seed_catalogue  # noqa: E402
from matters.store import MatterStore  # noqa: E402

DATABASE = "bench_submit"
BUSINESS = "3702020100001"  # 个体工商户设立登记 (manual)
ELDER_CARD = "3702031100053"  # 老年人优待证办理 (秒批)
ELDER = "13800000003"
CLIENTS = 8
UPLOAD = (
    "mutation Up($input: UploadMaterialInput!) { uploadMaterial(input: $input) "
    "{ upload { id } userErrors { code } } }"
)
SUBMIT = (
    "mutation S($input: SubmitApplicationInput!) { submitApplication(input: $input) "
    "{ application { id status } userErrors { field code } } }"
)
BOUNDARY = "zsbbenchboundary"
SEGMENT = 8.0  # seconds: a quarter each for raw inserts, two kinds of submission, the replay


def png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (seed % 251, (seed // 251) % 251, 7)).save(out, "PNG")
    return out.getvalue()


def multipart(file: bytes) -> bytes:
    ops = json.dumps({"query": UPLOAD, "variables": {"input": {"file": None}}})
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{ops}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.input.file"]}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="m.png"\r\n'
        "Content-Type: image/png\r\n\r\n",
    ]
    return "".join(parts).encode() + file + f"\r\n--{BOUNDARY}--\r\n".encode()


class Client:
    """One keep-alive HTTP/1.1 connection (guides.Connection) with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = Connection(port)
        self.token = token

    async def post(self, body: bytes, content_type: str) -> dict[str, Any]:
        status, payload = await self.connection.request(
            "POST",
            "/graphql",
            body,
            self.token,
            content_type=content_type,
            extra_headers="apollo-require-preflight: true\r\n",
        )
        assert status == 200, payload[:300]
        data: dict[str, Any] = json.loads(payload)
        assert "errors" not in data, payload[:300]
        return data

    async def upload(self, seed: int) -> str:
        data = await self.post(multipart(png(seed)), f"multipart/form-data; boundary={BOUNDARY}")
        payload = data["data"]["uploadMaterial"]
        assert payload["userErrors"] == [], payload
        return str(payload["upload"]["id"])

    async def submit_with_files(self, sub: dict[str, Any], files: list[bytes]) -> None:
        """One multipart submitApplication carrying the files (material k gets file k % n)."""
        materials = [{k: v for k, v in m.items() if k != "reference"} for m in sub["materials"]]
        for m in materials:
            m["file"] = None
        ops = json.dumps({"query": SUBMIT, "variables": {"input": {**sub, "materials": materials}}})
        paths = {
            str(n): [
                f"variables.input.materials.{i}.file" for i in range(n, len(materials), len(files))
            ]
            for n in range(len(files))
        }
        parts = [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{ops}\r\n',
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
            f"{json.dumps(paths)}\r\n",
        ]
        body = "".join(parts).encode()
        for n, file in enumerate(files):
            body += (
                (
                    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{n}"; '
                    f'filename="m{n}.png"\r\nContent-Type: image/png\r\n\r\n'
                ).encode()
                + file
                + b"\r\n"
            )
        body += f"--{BOUNDARY}--\r\n".encode()
        data = await self.post(body, f"multipart/form-data; boundary={BOUNDARY}")
        payload = data["data"]["submitApplication"]
        assert payload["userErrors"] == [], payload

    async def submit(self, sub: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": SUBMIT, "variables": {"input": sub}}).encode()
        payload: dict[str, Any] = (await self.post(body, "application/json"))["data"][
            "submitApplication"
        ]
        assert payload["userErrors"] == [], payload
        return payload


def business(key: str, refs: list[str], id_number: str) -> dict[str, Any]:
    return {
        "matterCode": BUSINESS,
        "idempotencyKey": key,
        "form": {
            "businessName": "青岛市南区基准小吃店",
            "operatorName": "基准",
            "idNumber": id_number,
            "phone": "13800000001",
            "businessScope": "小吃服务",
            "address": "青岛市市南区香港中路1号",
        },
        "materials": [
            {"name": "个体工商户登记（备案）申请书", "provision": "UPLOAD", "reference": refs[0]},
            {"name": "经营者身份证明", "provision": "UPLOAD", "reference": refs[1]},
            {"name": "经营场所使用证明", "provision": "UPLOAD", "reference": refs[0]},
        ],
    }


async def seed(state: AppState) -> tuple[list[str], str, str]:
    """Catalogue cut to the two matters, CLIENTS citizens, the demo elder; their tokens."""
    full = demo.generate()
    wanted = {BUSINESS, ELDER_CARD}
    cut = demo.Catalogue(
        [m for m in full.matters if m.code in wanted], full.departments, [], full.service_points
    )
    await seed_catalogue(MatterStore(state.db), cut)
    auth = state.auth_service()
    tokens = []
    for k in range(CLIENTS):
        phone = f"1390000{k:04d}"
        spec = UserSpec(
            phone,
            (Role.CITIZEN,),
            AssuranceLevel.L3,
            "基准",
            with_check_digit(f"37020219850615{k:03d}"),
            "370202",
        )
        await auth.ensure_user(spec)
        tokens.append((await auth.open_session_for_phone(phone, method="bench")).access_token)
    await auth.ensure_user(next(s for s in DEMO_USERS if s.phone == ELDER))
    await seed_demo_licences(auth, state.cards_service())
    elder_token = (await auth.open_session_for_phone(ELDER, method="bench")).access_token
    elder = await auth.find_user_by_phone(ELDER)
    assert elder is not None
    licence = await state.db["licences"].find_one({"holder_id": elder.id, "type_code": "JMSFZ"})
    assert licence is not None
    return tokens, elder_token, to_global_id("Licence", licence["_id"])


async def submissions(
    port: int,
    tokens: list[str],
    seconds: float,
    done: list[float],
    rounds: list[int],
    *,
    inline: bool = True,
) -> float:
    """One segment of closed-loop load; appends each submission's time to `done`; returns
    the segment's elapsed seconds. `rounds[k]` numbers client k's submissions across segments.
    `inline`: the two files in the submission request itself; else an uploadMaterial request
    for each first, then submitApplication referencing them (three requests)."""
    stop = time.monotonic() + seconds

    async def client(k: int) -> None:
        c = Client(port, tokens[k])
        id_number = with_check_digit(f"37020219850615{k:03d}")
        while time.monotonic() < stop:
            i = rounds[k] = rounds[k] + 1
            started = time.perf_counter()
            seed = (k * 1_000_003 + i * 2) % 10_000_000
            key = f"bench-{k}-{i}-{uuid.uuid4().hex[:8]}"
            if inline:
                files = [png(seed), png(seed + 1)]
                await c.submit_with_files(business(key, ["", ""], id_number), files)
            else:
                refs = [await c.upload(seed), await c.upload(seed + 1)]
                await c.submit(business(key, refs, id_number))
            done.append(time.perf_counter() - started)

    started = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(len(tokens))))
    return time.monotonic() - started


async def raw_inserts(collection: AsyncCollection[Document], seconds: float) -> tuple[int, float]:
    """insert_one of an application-sized document, CLIENTS at a time, for `seconds`."""
    template = {
        "applicant_id": ObjectId(),
        "matter_code": BUSINESS,
        "status": "SUBMITTED",
        "form": {"businessName": "青岛市南区基准小吃店", "address": "青岛市市南区香港中路1号"},
        "materials": [{"name": "经营者身份证明", "provision": "UPLOAD", "reference": "x" * 40}] * 3,
        "timeline": [{"action": "SUBMIT", "before": "DRAFT", "after": "SUBMITTED"}],
    }
    count = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal count
        while time.monotonic() < stop:
            await collection.insert_one({**template, "_id": ObjectId()})
            count += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return count, time.monotonic() - started


async def miaopi_latency(port: int, token: str, licence: str, samples: int) -> list[float]:
    """秒批 submissions one after another (one upload each, made beforehand)."""
    c = Client(port, token)
    id_number = with_check_digit("37020319580908782")
    latencies = []
    for i in range(samples):
        photo = await c.upload(9_000_000 + i)
        sub = {
            "matterCode": ELDER_CARD,
            "idempotencyKey": f"miaopi-{i}-{uuid.uuid4().hex[:8]}",
            "form": {
                "applicantName": "王秀英",
                "idNumber": id_number,
                "phone": "13800000003",
                "address": "青岛市市北区辽宁路100号",
            },
            "materials": [
                {"name": "居民身份证", "provision": "LICENCE", "reference": licence},
                {"name": "近期免冠照片", "provision": "UPLOAD", "reference": photo},
            ],
        }
        started = time.perf_counter()
        payload = await c.submit(sub)
        latencies.append(time.perf_counter() - started)
        assert payload["application"]["status"] == "APPROVED", payload
    return latencies


async def run(quick: bool, workers: int = 1) -> None:
    phase = 40.0 if quick else 120.0  # per measurement, split into alternating segments
    samples = 150 if quick else 400
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        env = {
            **os.environ,
            "ZSB_MONGODB_URI": db.uri,
            "ZSB_DATABASE_NAME": DATABASE,
            "ZSB_DATA_DIR": tmp,
            "ZSB_DEMO_DATA": "false",
            "ZSB_DEV_ISSUER": "false",
            "ZSB_RATE_LIMITS": "off",
            "ZSB_LOG_LEVEL": "WARNING",
            "ZSB_SECRET_KEY": "bench-" + "k" * 40,
            "ZSB_UPLOAD_QUOTA_FILES": "1000000",
            "ZSB_UPLOAD_QUOTA_BYTES": str(10**12),
        }
        settings = Settings.model_validate(
            {k[4:].lower(): v for k, v in env.items() if k.startswith("ZSB_")}
        )
        state = await build_state(settings)
        # The baseline's own client: retryable writes off (see the module's docstring).
        raw_client: AsyncMongoClient[Document] = AsyncMongoClient(db.uri, retryWrites=False)
        raw = raw_client[DATABASE]["bench_raw_inserts"]
        retryable = state.db["bench_raw_retryable_inserts"]  # the driver's defaults
        port = free_port()
        server = start_server(
            ["app.main:app_factory", "--factory", "--workers", str(workers)], env, port
        )
        try:
            tokens, elder_token, licence = await seed(state)
            auth = state.auth_service()
            applicants = [
                user.id
                for k in range(CLIENTS)
                if (user := await auth.find_user_by_phone(f"1390000{k:04d}")) is not None
            ]
            rounds = [0] * len(tokens)
            await submissions(port, tokens, 2.0, [], rounds)  # warm-up, both kinds
            await submissions(port, tokens, 1.0, [], rounds, inline=False)
            replay = await SubmissionReplay.of_applicants(state.db, applicants)
            # 秒批 first, on a quiet server: the latency a citizen sees.
            latencies = sorted(await miaopi_latency(port, elder_token, licence, samples))
            retry_first = await raw_inserts(retryable, SEGMENT / 4)
            # Then each measurement in turn, segment after segment, so that whatever else this
            # shared machine is doing falls on all alike.
            tally = {k: [0, 0.0] for k in ("raw", "inline", "separate", "floor")}
            inline_times: list[float] = []
            separate_times: list[float] = []
            for _ in range(int(phase // SEGMENT)):
                for kind, (count, elapsed) in (
                    ("raw", await raw_inserts(raw, SEGMENT / 4)),
                    ("inline", await counted(port, tokens, inline_times, rounds, inline=True)),
                    ("separate", await counted(port, tokens, separate_times, rounds, inline=False)),
                    ("floor", await replay.rate(SEGMENT / 4)),
                ):
                    tally[kind][0] += count
                    tally[kind][1] += elapsed
            retry_last = await raw_inserts(retryable, SEGMENT / 4)
            rate = {k: count / elapsed for k, (count, elapsed) in tally.items()}
            print(f"workers={workers}")
            print(f"clients={CLIENTS}")
            print(f"raw_insert_one_per_s={rate['raw']:.1f}")
            print(f"submit_with_two_uploads_per_s={rate['inline']:.2f}")
            print(f"submissions={len(inline_times)}")
            print(f"submission_p50_ms={percentile(inline_times, 0.5):.1f}")
            print(f"submission_p99_ms={percentile(inline_times, 0.99):.1f}")
            print(f"submit_vs_raw_insert={rate['inline'] / rate['raw']:.3f}")
            print(f"separate_uploads_per_s={rate['separate']:.2f}")
            print(f"separate_uploads_p99_ms={percentile(separate_times, 0.99):.1f}")
            print(f"separate_uploads_vs_raw_insert={rate['separate'] / rate['raw']:.3f}")
            print(f"db_floor_per_s={rate['floor']:.1f}")
            print(f"db_floor_vs_raw_insert={rate['floor'] / rate['raw']:.3f}")
            print(f"submit_vs_db_floor={rate['inline'] / rate['floor']:.3f}")
            print(f"raw_retryable_insert_one_first_per_s={retry_first[0] / retry_first[1]:.1f}")
            print(f"raw_retryable_insert_one_last_per_s={retry_last[0] / retry_last[1]:.1f}")
            print(f"miaopi_samples={samples}")
            print(f"miaopi_p50_ms={1000 * statistics.median(latencies):.1f}")
            print(f"miaopi_p99_ms={1000 * latencies[int(len(latencies) * 0.99)]:.1f}")
        finally:
            server.terminate()
            server.wait(10)
            await raw_client.close()
            await close_state(state)


async def counted(
    port: int, tokens: list[str], times: list[float], rounds: list[int], *, inline: bool
) -> tuple[int, float]:
    before = len(times)
    elapsed = await submissions(port, tokens, SEGMENT / 4, times, rounds, inline=inline)
    return len(times) - before, elapsed


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter run (under 3 minutes)")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (`zsb serve` default: 1)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.quick, args.workers))


if __name__ == "__main__":
    main()
