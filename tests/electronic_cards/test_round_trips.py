"""A verification's database round trips stay few (the p99 target of issue 7 rests on it), and
its writes land together: usage record, holder event and notification job in one transaction."""

from __future__ import annotations

from pymongo import AsyncMongoClient, monitoring

from app.db import Document
from electronic_cards import sdl1, verifier_orgs
from tests.electronic_cards.helpers import HOLDER, TRAFFIC, licence_id, mint_text, seeded, verify
from tests.factories import Api

_HANDSHAKE = {"hello", "isMaster", "ismaster", "endSessions"}


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _HANDSHAKE:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_verification_round_trips_and_one_transaction(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    officer = await api.token(TRAFFIC)
    driving = await licence_id(api, holder, "JDCJSZ")
    verifier_orgs.forget()
    commands = _Commands()
    original = api.state.client
    counted: AsyncMongoClient[Document] = AsyncMongoClient(
        api.state.settings.mongodb_uri, tz_aware=True, event_listeners=[commands]
    )
    api.state.client = counted
    try:
        first = await mint_text(api, holder, driving)
        assert (await verify(api, officer, first, "TRAFFIC_CHECK"))["result"] == "VALID"
        cold = len(commands.names)
        text = await mint_text(api, holder, driving)
        commands.names.clear()
        assert (await verify(api, officer, text, "TRAFFIC_CHECK"))["result"] == "VALID"
        warm = list(commands.names)
    finally:
        api.state.client = original
        await counted.close()
    # token+licence (one aggregate), the replay claim, the holder's account (active, not being
    # erased) with their preferences (one aggregate), then usage record, holder event,
    # notification job and inbox copy in one bulkWrite, and the commit. Before issue 7's work:
    # 11; before the perf pass: 6, two of them retryable writes (now one: the claim; the inbox
    # copy is in the transaction).
    assert warm == ["aggregate", "insert", "aggregate", "bulkWrite", "commitTransaction"], warm
    assert cold > len(warm)  # the first check of an account also reads its organisation
    db = api.state.db
    cti = sdl1.decode_token(text).claims.cti.hex()
    record = await db["licence_usage_records"].find_one({"token_id": cti})
    assert record is not None
    job = await db["notification_outbox"].find_one({"_id": f"notify:licence-check:{record['_id']}"})
    assert job is not None
    assert job["urgent"] is False
    event = await db["licence_events"].find_one({"data.usage_record_id": record["_id"]})
    assert event is not None
    assert event["kind"] == "LICENCE_CHECKED"
    claim = await db["licence_qr_consumptions"].find_one({"_id": cti})
    assert claim is not None
    assert claim["answer"]["result"] == "VALID"
    copy = await db["notifications"].find_one({"source": job["_id"]})
    assert copy is not None
    assert copy["user_id"] == record["holder_id"]
    assert copy["push"] is True
