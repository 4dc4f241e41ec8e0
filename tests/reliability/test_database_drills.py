"""The database fails in the middle of a submission, a verification and a campaign delivery.

Clients get UNAVAILABLE (retryable); once the database is back, the same request with the same
idempotency key completes exactly once, and nothing is left half-written.
"""

from __future__ import annotations

from app.embedded_db import EmbeddedDatabase
from applications.store import APPLICATIONS, NOTICES
from auth.identity_numbers import with_check_digit
from electronic_cards.store import EVENTS, LICENCES, USAGE_RECORDS
from matters.service import seed_catalogue
from matters.store import MatterStore
from notifications.outbox_store import OUTBOX
from notifications.store import INBOX
from tests.applications.conftest import (
    ELDER,
    SUBMIT,
    demo_catalogue,
    elder_input,
    elder_materials_of,
)
from tests.electronic_cards.helpers import HOLDER, TRAFFIC, licence_id, mint_text, seeded, verify
from tests.electronic_cards.helpers import VERIFY as VERIFY_QR
from tests.factories import Api, create_demo_user
from tests.reliability.conftest import UNTIL_OFF, FailPoints, unavailable

ELDER_ID = with_check_digit("37020319580908782")


async def _elder(api: Api) -> str:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    await create_demo_user(api.state, ELDER)
    return await api.token(ELDER)


async def test_submission_cut_after_the_application_is_written_completes_on_retry(
    drill_api: Api, fail_points: FailPoints
) -> None:
    api = drill_api
    elder = await _elder(api)
    request = {"input": elder_input("drill-submit-01", ELDER_ID)}
    request["input"]["materials"] = await elder_materials_of(api, elder)
    # The application (秒批: approved at once) is inserted; the connection then drops on every
    # later write — the licence for the wallet first — however often the driver retries.
    await fail_points.arm(UNTIL_OFF, ["insert"], closeConnection=True)
    first = await api.gql(SUBMIT, request, elder)
    await fail_points.off()
    assert unavailable(first), first
    db = api.state.db
    written = await db[APPLICATIONS].find_one({"idempotency_key": "drill-submit-01"})
    assert written is not None
    assert written["status"] == "APPROVED"
    assert written["result"]["delivery"] is None  # the half a retry must finish
    # (The elder's own 居民身份证, referenced for 免证办, is in the wallet already.)
    results = {"holder_id": written["applicant_id"], "type_code": {"$ne": "JMSFZ"}}
    assert await db[LICENCES].count_documents(results) == 0

    for _ in range(2):  # the retry, and a second one (a double tap) for good measure
        again = (await api.data(SUBMIT, request, elder))["submitApplication"]
        assert again["userErrors"] == []
        assert again["application"]["status"] == "APPROVED"
    assert await db[APPLICATIONS].count_documents({"applicant_id": written["applicant_id"]}) == 1
    licences = await db[LICENCES].find(results).to_list(5)
    assert [lic["_id"] for lic in licences] == [written["_id"]]
    done = await db[APPLICATIONS].find_one({"_id": written["_id"]})
    assert done is not None
    assert done["result"]["delivery"] == f"WALLET:{written['_id']}"
    assert await db[NOTICES].count_documents({"application_id": written["_id"]}) == 1
    assert await db[INBOX].count_documents({"user_id": written["applicant_id"]}) == 1


async def test_submission_with_the_server_stopped_then_started_completes_once(
    drill_api: Api, drill_db: EmbeddedDatabase
) -> None:
    api = drill_api
    elder = await _elder(api)
    request = {"input": elder_input("drill-submit-02", ELDER_ID)}
    request["input"]["materials"] = await elder_materials_of(api, elder)
    port = drill_db.port
    assert port is not None
    drill_db.stop()
    try:
        down = await api.gql(SUBMIT, request, elder)
        assert unavailable(down), down
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503
    finally:
        drill_db.start(port)
    assert (await api.client.get("/readyz")).status_code == 200
    back = (await api.data(SUBMIT, request, elder))["submitApplication"]
    assert back["application"]["status"] == "APPROVED"
    db = api.state.db
    assert await db[APPLICATIONS].count_documents({"idempotency_key": "drill-submit-02"}) == 1
    assert await db[LICENCES].count_documents({"type_code": {"$ne": "JMSFZ"}}) == 1


async def _scan(api: Api) -> tuple[str, str]:
    await seeded(api)
    holder, officer = await api.token(HOLDER), await api.token(TRAFFIC)
    return officer, await mint_text(api, holder, await licence_id(api, holder, "JDCJSZ"))


async def test_verification_cut_mid_write_leaves_no_half_record_and_retries_once(
    drill_api: Api, fail_points: FailPoints
) -> None:
    api = drill_api
    officer, text = await _scan(api)
    db = api.state.db
    records_before = await db[USAGE_RECORDS].count_documents({})
    events_before = await db[EVENTS].count_documents({})
    # The token is claimed and the usage record, the holder's event and the notification job
    # are written inside the transaction (one bulkWrite); its commit, and every commit after
    # it, lose their connection until the drill says otherwise.
    await fail_points.arm(
        {"skip": 0, "times": 1_000_000}, ["commitTransaction"], closeConnection=True
    )
    first = await api.gql(VERIFY_QR, {"text": text, "scene": "TRAFFIC_CHECK"}, officer)
    await fail_points.off()
    assert unavailable(first), first
    assert await db[USAGE_RECORDS].count_documents({}) == records_before
    assert await db[EVENTS].count_documents({}) == events_before
    check_jobs = {"_id": {"$regex": "^notify:licence-check:"}}
    assert await db[OUTBOX].count_documents(check_jobs) == 0

    answer = await verify(api, officer, text, "TRAFFIC_CHECK")
    assert answer["result"] == "VALID"
    assert await db[USAGE_RECORDS].count_documents({}) == records_before + 1
    record = await db[USAGE_RECORDS].find_one({"result": "VALID"})
    assert record is not None
    event = await db[EVENTS].find_one({"data.usage_record_id": record["_id"]})
    assert event is not None
    assert event["kind"] == "LICENCE_CHECKED"
    assert await db[EVENTS].count_documents({}) == events_before + 1
    assert await db[OUTBOX].count_documents(check_jobs) == 1
