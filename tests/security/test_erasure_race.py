"""deleteMyAccount against concurrent writes, and an erasure that stops part way.

The interleavings are driven step by step through app/erasures.py (mark and check, the domain
steps, the worker's resume and sweep), with the writes sent through the API in between: no
sleeps, the same order every run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from app import erasures
from app.audit import AUDIT_EVENTS
from app.errors import DomainError
from applications.store import APPLICATIONS
from auth.user_store import USERS
from matters.service import seed_catalogue
from matters.store import MatterStore
from notifications.store import DEVICES, INBOX
from tests.applications.conftest import demo_catalogue, own_business_input
from tests.applications.uploading import png, post_upload
from tests.factories import LOGIN, REQUEST_CODE, Api, create_demo_user

CITIZEN = "13800000001"
SUBMIT = """mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id status } userErrors { code } } }"""
DRAFT = """mutation($input: SaveApplicationDraftInput!) {
  saveApplicationDraft(input: $input) { application { id } userErrors { code } } }"""
REGISTER = """mutation { registerDevice(input: {provider: FCM, token: "tok-erasing-0123456789",
  platform: ANDROID}) { device { id } userErrors { code } } }"""
GRANT = """mutation($input: GrantAgencyInput!) {
  grantAgency(input: $input) { grant { id } userErrors { code } } }"""
DELETE = """mutation($code: String!) { deleteMyAccount(input: {code: $code}) {
  deleted retained userErrors { field code } } }"""


async def _citizen(api: Api) -> tuple[ObjectId, str, dict[str, object]]:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    user = await create_demo_user(api.state, CITIZEN)
    token = await api.token(CITIZEN)
    submission = await own_business_input(api, token, uuid.uuid4().hex)  # uploads made now
    return user.id, token, submission


async def _start(api: Api, user_id: ObjectId) -> erasures.Erasure:
    """deleteMyAccount up to its check: the account is marked, nothing deleted yet."""
    now = datetime.now(UTC)
    erasure = await erasures.begin(api.state, user_id, ("CITIZEN",), [], now)
    assert erasure is not None
    await erasures.check(api.state, erasure, now)
    return erasure


def _refused(payload: dict[str, object]) -> bool:
    errors = payload.get("errors")
    return isinstance(errors, list) and errors[0]["extensions"]["code"] == "ACCOUNT_ERASING"


async def test_no_write_lands_for_an_account_being_erased(api: Api) -> None:
    user_id, token, submission = await _citizen(api)
    erasure = await _start(api, user_id)
    # Every kind of write for the person, interleaved between the mark and the steps.
    assert _refused(await api.gql(SUBMIT, {"input": submission}, token))
    draft = {"matterCode": submission["matterCode"], "form": {}}
    assert _refused(await api.gql(DRAFT, {"input": draft}, token))
    assert _refused(await api.gql(REGISTER, token=token))
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    grant = {"agentPhone": "13800000003", "expiresAt": until}
    assert _refused(await api.gql(GRANT, {"input": grant}, token))
    upload = await post_upload(api, token, png("late"))
    assert _refused(upload.json())
    # No new session either.
    await api.state.db["login_code_quotas"].delete_many({})
    await api.data(REQUEST_CODE, {"phone": CITIZEN})
    code = await api.last_sms_code(CITIZEN)
    login = (await api.data(LOGIN, {"phone": CITIZEN, "code": code}))["loginWithCode"]
    assert login["userErrors"][0]["code"] == "ACCOUNT_ERASING"

    await erasures.run(api.state, erasure, datetime.now(UTC))
    # Another process that still trusts the token's session from its cache: refused too.
    session = await api.state.db["auth_sessions"].find_one({"user_id": user_id})
    assert session is not None
    api.state.sessions.remember(session["_id"], user_id)
    assert _refused(await api.gql(SUBMIT, {"input": submission}, token))

    db = api.state.db
    assert await db[APPLICATIONS].count_documents({"applicant_id": user_id}) == 0
    assert await db[DEVICES].count_documents({"user_id": user_id}) == 0
    assert await db["agency_grants"].count_documents({"principal_id": user_id}) == 0
    assert await db["uploads"].count_documents({"owner_id": user_id}) == 0
    assert await db[USERS].count_documents({"_id": user_id}) == 0


async def test_a_case_submitted_first_refuses_the_erasure_and_lifts_the_mark(api: Api) -> None:
    user_id, token, submission = await _citizen(api)
    submitted = await api.data(SUBMIT, {"input": submission}, token)
    assert submitted["submitApplication"]["userErrors"] == []
    now = datetime.now(UTC)
    erasure = await erasures.begin(api.state, user_id, ("CITIZEN",), [], now)
    assert erasure is not None
    with pytest.raises(DomainError) as refused:
        await erasures.check(api.state, erasure, now)
    assert refused.value.code == "OPEN_APPLICATIONS"
    assert await api.state.auth_service().users.is_active(user_id)
    assert await api.state.db[erasures.ERASURES].count_documents({}) == 0
    register = await api.data(REGISTER, token=token)  # the account works again
    assert register["registerDevice"]["userErrors"] == []


async def test_writes_that_slipped_past_the_guard_are_swept(api: Api) -> None:
    """A request that passed the guard just before the mark writes after the steps ran."""
    user_id, _, _ = await _citizen(api)
    erasure = await _start(api, user_id)
    finished = datetime.now(UTC)
    await erasures.run(api.state, erasure, finished)
    db = api.state.db
    late_case = {
        "_id": ObjectId(),
        "applicant_id": user_id,
        "status": "SUBMITTED",
        "idempotency_key": "late-one",
        "timeline": [],
        "rev": 0,
    }
    await db[APPLICATIONS].insert_one(late_case)
    await db[DEVICES].insert_one({"user_id": user_id, "provider": "FCM", "token": "late-tok"})
    await db[INBOX].insert_one({"user_id": user_id, "source": "late", "title": "t"})

    early = await erasures.finish_erasures(api.state, finished + timedelta(seconds=1))
    assert early["erasures_swept"] == 0  # requests may still be in flight
    due = finished + erasures.sweep_delay(api.state) + timedelta(seconds=1)
    assert (await erasures.finish_erasures(api.state, due))["erasures_swept"] == 1
    case = await db[APPLICATIONS].find_one({"_id": late_case["_id"]})
    assert case is not None
    assert case["status"] == "WITHDRAWN"
    assert case["timeline"][-1]["actor_role"] == "SYSTEM"
    assert case["applicant_erased_at"] is not None
    assert await db[DEVICES].count_documents({"user_id": user_id}) == 0
    assert await db[INBOX].count_documents({"user_id": user_id}) == 0
    record = await db[erasures.ERASURES].find_one({"_id": user_id})
    assert record is not None
    assert record["swept_at"] is not None
    assert "phone_keys" not in record
    assert (await erasures.finish_erasures(api.state, due))["erasures_swept"] == 0


async def test_an_erasure_that_died_part_way_is_finished(api: Api) -> None:
    user_id, token, _ = await _citizen(api)
    registered = await api.data(REGISTER, token=token)
    assert registered["registerDevice"]["userErrors"] == []
    erasure = await _start(api, user_id)
    started = datetime.now(UTC)
    name, step = erasures.STEPS[0]
    await erasures.record_step(api.state, erasure, name, await step(api.state, erasure, started))
    # ... and the process dies here: the account is still there, marked.
    db = api.state.db
    assert await db[USERS].count_documents({"_id": user_id}) == 1
    assert _refused(await api.gql(REGISTER, token=token))

    soon = await erasures.finish_erasures(api.state, started + timedelta(seconds=5))
    assert soon["erasures_resumed"] == 0  # it may still be running elsewhere
    later = started + erasures.STALLED_AFTER + timedelta(seconds=1)
    assert (await erasures.finish_erasures(api.state, later))["erasures_resumed"] == 1
    assert await db[USERS].count_documents({"_id": user_id}) == 0
    record = await db[erasures.ERASURES].find_one({"_id": user_id})
    assert record is not None
    assert record["finished_at"] is not None
    assert record["steps_done"] == [n for n, _ in erasures.STEPS]
    assert record["counts"]["devicesDeleted"] == 1  # the first run's count is kept
    assert (await erasures.finish_erasures(api.state, later))["erasures_resumed"] == 0
    audits = await db[AUDIT_EVENTS].count_documents({"action": "privacy.account_erased"})
    assert audits == 1


async def test_a_repeated_delete_resumes_the_erasure(api: Api) -> None:
    user_id, token, _ = await _citizen(api)
    erasure = await _start(api, user_id)
    name, step = erasures.STEPS[0]
    now = datetime.now(UTC)
    await erasures.record_step(api.state, erasure, name, await step(api.state, erasure, now))
    # Died before the sessions were revoked: the person asks again.
    await api.state.db["login_code_quotas"].delete_many({})
    await api.data(REQUEST_CODE, {"phone": CITIZEN})
    code = await api.last_sms_code(CITIZEN)
    result = (await api.data(DELETE, {"code": code}, token))["deleteMyAccount"]
    assert result["userErrors"] == []
    assert result["deleted"] is True
    assert await api.state.db[USERS].count_documents({"_id": user_id}) == 0


INLINE_DRAFT = """mutation($input: SaveApplicationDraftInput!) { ... on Mutation {
  saveApplicationDraft(input: $input) { application { id } userErrors { code } } } }"""
NAMED_DRAFT = """mutation($input: SaveApplicationDraftInput!) { ...Write }
fragment Write on Mutation { ... on Mutation {
  saveApplicationDraft(input: $input) { application { id } userErrors { code } } } }"""


@pytest.mark.parametrize("document", [INLINE_DRAFT, NAMED_DRAFT], ids=["inline", "named"])
async def test_a_write_wrapped_in_a_fragment_is_refused_too(api: Api, document: str) -> None:
    """Review 3 finding 3: the guard looked only at top-level fields, so a fragment-wrapped
    mutation by an account being erased wrote its draft."""
    user_id, token, submission = await _citizen(api)
    await _start(api, user_id)
    draft = {"matterCode": submission["matterCode"], "form": {}}
    assert _refused(await api.gql(document, {"input": draft}, token))
    assert await api.state.db[APPLICATIONS].count_documents({"applicant_id": user_id}) == 0
