"""Database round trips per request of bench/submit.py's submission, counted (not timed).

    python bench/submit_roundtrips.py

Counts are immune to machine load, unlike bench/submit.py's rates. The API runs under uvicorn
in this process (so a pymongo CommandListener sees its commands) against an embedded
SecantusDB; the same clients and bodies as bench/submit.py. Prints `name=value` lines and, per
request kind, which commands on which collections were sent.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import uvicorn
from pymongo import monitoring

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from guides import free_port  # noqa: E402
from submit import ELDER_CARD, Client, business, png, seed  # noqa: E402

from app.embedded_db import EmbeddedDatabase  # noqa: E402
from app.main import build_state, close_state, create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from auth.identity_numbers import with_check_digit  # noqa: E402

ROUNDS = 5


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        where = target if isinstance(target, str) else ""
        self.seen[f"{event.command_name} {where}".strip()] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> Counter[str]:
        seen, self.seen = self.seen, Counter()
        return seen


async def measure(listener: Commands, label: str, step: Any) -> int:
    listener.take()
    for i in range(ROUNDS):
        await step(i)
    seen = listener.take()
    total = sum(seen.values())
    print(f"{label}_round_trips={total / ROUNDS:g}")
    for name, n in sorted(seen.items()):
        print(f"#   {label}: {name} x{n / ROUNDS:g}")
    return total


async def run() -> None:
    listener = Commands()
    monitoring.register(listener)  # before any client exists: every client reports to it
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        env = {
            "mongodb_uri": db.uri,
            "database_name": "bench_roundtrips",
            "data_dir": tmp,
            "demo_data": "false",
            "dev_issuer": "false",
            "rate_limits": "off",
            "log_level": "WARNING",
            "secret_key": "bench-" + "k" * 40,
            "upload_quota_files": "1000000",
            "upload_quota_bytes": str(10**12),
        }
        os.environ.update({f"ZSB_{k.upper()}": v for k, v in env.items()})
        settings = Settings.model_validate(env)
        state = await build_state(settings)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn.Server offers a flag, no event
            await asyncio.sleep(0.05)
        try:
            tokens, elder_token, licence = await seed(state)
            c = Client(port, tokens[0])
            id_number = with_check_digit("37020219850615000")
            # Warm-up: first requests fill caches (matters, sessions) and counters.
            warm = [await c.upload(1), await c.upload(2)]
            await c.submit(business(f"warm-{uuid.uuid4().hex}", warm, id_number))
            refs: list[str] = []

            async def upload(i: int) -> None:
                refs.append(await c.upload(100 + i))

            async def submit(i: int) -> None:
                key = f"rt-{i}-{uuid.uuid4().hex[:8]}"
                await c.submit(business(key, [refs[i], refs[(i + 1) % ROUNDS]], id_number))

            up = await measure(listener, "upload", upload)
            sub = await measure(listener, "submit", submit)
            print(f"submission_round_trips={(2 * up + sub) / ROUNDS:g}")

            async def inline(i: int) -> None:
                key = f"rt-inline-{i}-{uuid.uuid4().hex[:8]}"
                files = [png(200 + 2 * i), png(201 + 2 * i)]
                await c.submit_with_files(business(key, ["", ""], id_number), files)

            await measure(listener, "submission_with_files", inline)

            e = Client(port, elder_token)
            photos = [await e.upload(9_000_000 + i) for i in range(ROUNDS)]

            async def miaopi(i: int) -> None:
                form = {
                    "applicantName": "王秀英",
                    "idNumber": with_check_digit("37020319580908782"),
                    "phone": "13800000003",
                    "address": "青岛市市北区辽宁路100号",
                }
                await e.submit(
                    {
                        "matterCode": ELDER_CARD,
                        "idempotencyKey": f"miaopi-{i}-{uuid.uuid4().hex[:8]}",
                        "form": form,
                        "materials": [
                            {"name": "居民身份证", "provision": "LICENCE", "reference": licence},
                            {"name": "近期免冠照片", "provision": "UPLOAD", "reference": photos[i]},
                        ],
                    }
                )

            await measure(listener, "miaopi_submit", miaopi)
        finally:
            server.should_exit = True
            await serving
            await close_state(state)


if __name__ == "__main__":
    asyncio.run(run())
