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
    ELDER_CARD,
    SUBMIT,
    demo_catalogue,
    elder_input,
    elder_materials_of,
)
from tests.applications.test_drafts import SAVE as SAVE_DRAFT
from tests.electronic_cards.helpers import HOLDER, TRAFFIC, licence_id, mint_text, seeded, verify
from tests.electronic_cards.helpers import VERIFY as VERIFY_QR
from tests.factories import Api, create_demo_user
from tests.reliability.conftest import FailPoints, unavailable

ELDER_ID = with_check_digit("37020319580908782")


async def _elder(api: Api) -> str:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    await create_demo_user(api.state, ELDER)
    return await api.token(ELDER)


async def test_an_instant_approval_cut_at_its_commit_is_all_or_nothing(
    drill_api: Api, fail_points: FailPoints
) -> None:
    """秒批 writes the approved case, its licence and its notice in one transaction: a commit
    that never reaches the database leaves none of them, and the retry writes them once."""
    api = drill_api
    elder = await _elder(api)
    request = {"input": elder_input("drill-submit-00", ELDER_ID)}
    request["input"]["materials"] = await elder_materials_of(api, elder)
    await fail_points.arm({"times": 1_000_000}, ["commitTransaction"], closeConnection=True)
    first = await api.gql(SUBMIT, request, elder)
    await fail_points.off()
    assert unavailable(first), first
    db = api.state.db
    assert await db[APPLICATIONS].count_documents({"idempotency_key": "drill-submit-00"}) == 0
    results = {"type_code": {"$ne": "JMSFZ"}}  # (her own 居民身份证 is in the wallet already)
    assert await db[LICENCES].count_documents(results) == 0
    assert await db[NOTICES].count_documents({}) == 0

    for _ in range(2):  # the retry, and a second one (a double tap) for good measure
        again = (await api.data(SUBMIT, request, elder))["submitApplication"]
        assert again["userErrors"] == []
        assert again["application"]["status"] == "APPROVED"
    done = await db[APPLICATIONS].find_one({"idempotency_key": "drill-submit-00"})
    assert done is not None
    assert done["result"]["delivery"] == f"WALLET:{done['_id']}"
    assert "result_pending" not in done
    licences = await db[LICENCES].find(results).to_list(5)
    assert [lic["_id"] for lic in licences] == [done["_id"]]
    assert await db[NOTICES].count_documents({"application_id": done["_id"]}) == 1
    assert await db[INBOX].count_documents({"user_id": done["applicant_id"]}) == 1


async def test_submission_cut_after_the_application_is_written_completes_on_retry(
    drill_api: Api, fail_points: FailPoints
) -> None:
    """A draft's 秒批 submission takes the step-by-step path (the draft becomes the case,
    then the licence is issued; the rare 秒批 whose status slot collided shares that code): cut
    between the two, the retry finishes the job once."""
    api = drill_api
    elder = await _elder(api)
    saved = await api.data(SAVE_DRAFT, {"input": {"matterCode": ELDER_CARD, "form": {}}}, elder)
    draft = saved["saveApplicationDraft"]["application"]["id"]
    request = {"input": {**elder_input("drill-submit-01", ELDER_ID), "draftId": draft}}
    request["input"]["materials"] = await elder_materials_of(api, elder)
    # The draft is submitted (approved at once); the connection then drops on every insert —
    # the licence for the wallet first — however often the driver retries.
    await fail_points.arm({"times": 1_000_000}, ["insert"], closeConnection=True)
    first = await api.gql(SUBMIT, request, elder)
    await fail_points.off()
    assert unavailable(first), first
    db = api.state.db
    written = await db[APPLICATIONS].find_one({"idempotency_key": "drill-submit-01"})
    assert written is not None
    assert written["status"] == "APPROVED"
    assert written["result"]["delivery"] is None  # the half a retry must finish
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


async def test_a_shutdown_in_progress_error_is_retried_at_once(
    drill_api: Api, fail_points: FailPoints
) -> None:
    """ShutdownInProgress (91) on a write: the driver marks the server Unknown and the retryable
    write must find it again within the request's budget (it waited for the streaming monitor's
    next heartbeat, 10 s, and answered UNAVAILABLE). Then the service goes on serving."""
    api = drill_api
    elder = await _elder(api)
    request = {"input": elder_input("drill-submit-91", ELDER_ID)}
    request["input"]["materials"] = await elder_materials_of(api, elder)
    # A 秒批 submission's one write: the commit of its transaction (case, licence, notice); the
    # driver retries a commit once.
    await fail_points.arm({"times": 1}, ["commitTransaction"], errorCode=91)
    first = await api.gql(SUBMIT, request, elder)
    assert "errors" not in first, first
    assert first["data"]["submitApplication"]["userErrors"] == []
    await fail_points.arm({"times": 1}, ["commitTransaction"], errorCode=91, errorLabels=[])
    # Not retryable this time (no label): this request fails, the next one must not.
    failed = await api.gql(
        SUBMIT, {"input": {**request["input"], "idempotencyKey": "drill-submit-91b"}}, elder
    )
    assert unavailable(failed), failed
    again = await api.gql(
        SUBMIT, {"input": {**request["input"], "idempotencyKey": "drill-submit-91c"}}, elder
    )
    assert "errors" not in again, again
    db = api.state.db
    assert await db[APPLICATIONS].count_documents({"idempotency_key": "drill-submit-91"}) == 1
