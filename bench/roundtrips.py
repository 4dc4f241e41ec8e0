"""Database round trips per request: createLicenceQr, verifyLicenceQr, MatterGuide, submit.

    python bench/roundtrips.py

Runs the ASGI app in this process (httpx ASGITransport, lifespan started by hand) on an
embedded SecantusDB seeded like bench/load.py (a few holders), with a pymongo CommandListener
counting the commands each request sends. Prints `name=value` lines: the command count per
operation (the steady state: the last of several repetitions, after the in-process caches are
warm) and, for the verification, the command names in order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import load  # noqa: E402
from pymongo import monitoring  # noqa: E402

from app.embedded_db import EmbeddedDatabase  # noqa: E402
from app.main import create_app  # noqa: E402
from app.persisted import DEFAULT_DIR, operation_hash  # noqa: E402

REPEAT = 5


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in ("hello", "isMaster", "ismaster", "endSessions"):
            # A retryable write carries a txnNumber outside a transaction (no `autocommit`):
            # SecantusDB records each such write for replay, at a cost that grows with the
            # writes of the last 30 minutes, so they are marked with a `*`.
            command = event.command
            retryable = "txnNumber" in command and "autocommit" not in command
            star = "*" if retryable else ""
            self.names.append(f"{event.command_name}:{_target(event)}{star}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _target(event: monitoring.CommandStartedEvent) -> str:
    value = event.command.get(event.command_name)
    return value if isinstance(value, str) else "-"


async def main_async() -> None:
    load.HOLDERS = 3
    listener = Commands()
    monitoring.register(listener)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        fixtures = await load.prepare(db.uri, tmp)
        app = create_app(load._settings(db.uri, tmp))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:

                async def gql(query: str, variables: dict[str, Any], token: str) -> Any:
                    response = await http.post(
                        "/graphql",
                        json={"query": query, "variables": variables},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    body = response.json()
                    assert not body.get("errors"), body
                    return body["data"]

                holder = fixtures["holders"][0]
                digest = operation_hash((DEFAULT_DIR / "MatterGuide.graphql").read_text("utf-8"))
                guide = (
                    f"/graphql?id={digest}"
                    f"&variables={quote(json.dumps({'code': fixtures['codes'][0]}))}"
                )
                counts: dict[str, list[int]] = defaultdict(list)
                retryable: dict[str, list[int]] = defaultdict(list)
                names: dict[str, list[str]] = {}

                def take(op: str) -> None:
                    counts[op].append(len(listener.names))
                    retryable[op].append(sum(n.endswith("*") for n in listener.names))
                    names[op] = list(listener.names)
                    listener.names.clear()

                for i in range(REPEAT):
                    listener.names.clear()
                    minted = await gql(load.MINT, {"id": holder["licence"]}, holder["token"])
                    take("qr_mint")
                    text = minted["createLicenceQr"]["qr"]["text"]
                    verified = await gql(load.VERIFY, {"t": text}, fixtures["officer"])
                    assert verified["verifyLicenceQr"]["result"] == "VALID", verified
                    take("qr_verify")
                    response = await http.get(guide)
                    assert response.status_code == 200
                    assert b'"errors"' not in response.content
                    take("guide")
                    await gql(load.SEARCH, {"q": load.SEARCHES[i % len(load.SEARCHES)]}, "")
                    take("search")
                    await gql(load.INBOX, {}, holder["token"])
                    take("inbox")
                    request = {
                        "matterCode": load.BUSINESS,
                        "idempotencyKey": f"roundtrips-{i}",
                        "form": load._form(i),
                        "materials": [
                            {"name": name, "provision": "UPLOAD", "reference": ref}
                            for name, ref in zip(load.MATERIALS, holder["files"], strict=True)
                        ],
                    }
                    done = await gql(load.SUBMIT, {"input": request}, holder["token"])
                    assert done["submitApplication"]["userErrors"] == [], done
                    take("submit")
    for name, values in counts.items():
        print(f"{name}_round_trips={values[-1]}")
        print(f"{name}_retryable_writes={retryable[name][-1]}")
        print(f"{name}_round_trips_each={values}")
    for name, sent in names.items():
        print(f"{name}_commands={sent}")


if __name__ == "__main__":
    asyncio.run(main_async())
