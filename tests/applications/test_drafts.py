"""Drafts saved on the server, resumed on another device, submitted as the same application."""

from __future__ import annotations

import asyncio

from tests.applications.conftest import BUSINESS, CITIZEN, SUBMIT, business_input, errors
from tests.applications.test_process import MINE
from tests.factories import Api

SAVE = """
mutation Save($input: SaveApplicationDraftInput!) {
  saveApplicationDraft(input: $input) {
    application { id status form }
    userErrors { field code message }
  }
}"""


async def test_draft_resumed_elsewhere_and_submitted_once(
    api: Api, citizen: str, elder: str
) -> None:
    first = await api.data(
        SAVE, {"input": {"matterCode": BUSINESS, "form": {"businessName": "张记"}}}, citizen
    )
    draft = first["saveApplicationDraft"]["application"]
    assert draft["status"] == "DRAFT"
    # A second draft is fine: drafts carry no idempotency key.
    await api.data(SAVE, {"input": {"matterCode": BUSINESS, "form": {}}}, citizen)
    # Another device: a second session of the same person (the SMS flow is rate-limited).
    second = await api.state.auth_service().open_session_for_phone(CITIZEN, method="test")
    phone = second.access_token
    form = business_input("x")["form"]
    updated = await api.data(
        SAVE,
        {"input": {"matterCode": BUSINESS, "form": form, "applicationId": draft["id"]}},
        phone,
    )
    assert updated["saveApplicationDraft"]["application"]["form"] == form
    drafts = (await api.data(MINE, {"status": "DRAFT"}, phone))["myApplications"]["nodes"]
    assert len(drafts) == 2
    theirs = await api.data(
        SAVE, {"input": {"matterCode": BUSINESS, "form": {}, "applicationId": draft["id"]}}, elder
    )
    assert errors(theirs["saveApplicationDraft"]) == [("applicationId", "NOT_FOUND")]
    sub = {"input": {**business_input("from-draft-01"), "draftId": draft["id"]}}
    results = await asyncio.gather(*(api.data(SUBMIT, sub, phone) for _ in range(4)))
    apps = [r["submitApplication"]["application"] for r in results]
    assert {a["id"] for a in apps} == {draft["id"]}
    assert {a["status"] for a in apps} == {"SUBMITTED"}
    assert [e["action"] for e in apps[0]["timeline"]] == ["SUBMIT"]
    assert await api.state.db["applications"].count_documents({}) == 2
    # A submitted draft is no longer editable.
    late = await api.data(
        SAVE, {"input": {"matterCode": BUSINESS, "form": {}, "applicationId": draft["id"]}}, phone
    )
    assert errors(late["saveApplicationDraft"]) == [("applicationId", "NOT_FOUND")]


async def test_bad_drafts(api: Api, citizen: str) -> None:
    not_object = await api.data(SAVE, {"input": {"matterCode": BUSINESS, "form": [1]}}, citizen)
    assert errors(not_object["saveApplicationDraft"]) == [("form", "INVALID_INPUT")]
    huge = {"input": {"matterCode": BUSINESS, "form": {"note": "长" * 30_000}}}
    too_big = await api.data(SAVE, huge, citizen)
    assert errors(too_big["saveApplicationDraft"]) == [("form", "TOO_LONG")]
    unknown = await api.data(SAVE, {"input": {"matterCode": "0000000", "form": {}}}, citizen)
    assert errors(unknown["saveApplicationDraft"]) == [("matterCode", "NOT_FOUND")]
    missing = {"input": {**business_input("ghost-draft-1"), "draftId": "QXBwbGljYXRpb246eA"}}
    payload = (await api.data(SUBMIT, missing, citizen))["submitApplication"]
    assert errors(payload) == [("draftId", "INVALID_ID")]
    assert await api.state.db["applications"].count_documents({}) == 0
