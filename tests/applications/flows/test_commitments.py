"""容缺 reminders and deadline, 告知承诺 post-check and revocation (licence included)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from typing import Any

from app.ids import object_id_from_global
from applications.deadlines import CHINA, working_days_between
from applications.models import Application
from applications.postcheck import after_revocation
from applications.reminders import expire_supplements, housekeeping, remind_supplements, service_for
from applications.results import WalletSink
from auth.models import AssuranceLevel, Role
from auth.permissions import Viewer
from tests.applications.conftest import (
    CLERK,
    RENTAL,
    SUBMIT,
    clerk_mutation,
    elder_input,
    errors,
    ref,
    top_codes,
)
from tests.applications.test_followup import property_input
from tests.applications.test_process import submit
from tests.applications.test_submit import CITIZEN_ID, ELDER_ID
from tests.factories import Api, create_demo_user

ACCEPT = clerk_mutation("acceptApplication", "AcceptApplicationInput")
APPROVE = clerk_mutation("approveApplication", "ApproveApplicationInput")
REVOKE = clerk_mutation("revokeApplication", "RevokeApplicationInput")
POST_CHECK = """
mutation P($input: RecordPostCheckInput!) {
  recordPostCheck(input: $input) {
    application { id status postCheckOutcome timeline { action note } }
    userErrors { field code }
  }
}"""
QUEUE = "query { postCheckQueue { nodes { id status postCheckRequired } } }"
APP = "query A($id: ID!) { application(id: $id) { status timeline { action actorRole note } } }"
INBOX = "query { inbox { nodes { title } } }"
LICENCES = "query { myLicences { id status type { code } } }"


def at(day: Any, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=CHINA)


async def test_supplement_reminders_once_per_step_then_the_case_ends(
    api: Api, citizen: str, clerk: str
) -> None:
    sub = await api.data(SUBMIT, {"input": property_input("defer-10001")}, citizen)
    app_id = sub["submitApplication"]["application"]["id"]
    await api.data(ACCEPT, {"input": {"applicationId": app_id}}, clerk)
    doc = await api.state.db["applications"].find_one({})
    assert doc is not None
    due = doc["supplement_due_at"]
    due_day = due.astimezone(CHINA).date()
    # The working days 3 and 2 before the due day.
    days = [due_day - timedelta(days=n) for n in range(1, 15)]
    three = next(d for d in days if working_days_between(d, due_day) == 3)
    two = next(d for d in days if working_days_between(d, due_day) == 2)
    svc = service_for(api.state)

    assert await remind_supplements(svc, at(three, 9)) == 0
    assert await remind_supplements(svc, at(two, 9)) == 1
    assert await remind_supplements(svc, at(two, 15)) == 0  # once per step, however often run
    assert await remind_supplements(svc, at(due_day, 8)) == 1
    assert await remind_supplements(svc, at(due_day, 9)) == 0
    titles = [n["title"] for n in (await api.data(INBOX, token=citizen))["inbox"]["nodes"]]
    assert titles.count("请补正申请材料") == 2

    # Not yet due: nothing ends. Past due: SYSTEM ends it, once, and tells the applicant.
    assert await expire_supplements(svc, due - timedelta(minutes=1)) == 0
    counts = await housekeeping(svc, due + timedelta(minutes=1))
    assert counts["expired"] == 1
    assert (await housekeeping(svc, due + timedelta(hours=2)))["expired"] == 0
    seen = (await api.data(APP, {"id": app_id}, citizen))["application"]
    assert seen["status"] == "REJECTED"
    last = seen["timeline"][-1]
    assert (last["action"], last["actorRole"]) == ("SUPPLEMENT_EXPIRED", "SYSTEM")
    assert "完税凭证" in last["note"]


async def test_a_supplement_in_time_stops_the_clock(api: Api, citizen: str, clerk: str) -> None:
    sub = await api.data(SUBMIT, {"input": property_input("defer-10002")}, citizen)
    app_id = sub["submitApplication"]["application"]["id"]
    await api.data(ACCEPT, {"input": {"applicationId": app_id}}, clerk)
    supply = """mutation S($input: SupplementMaterialsInput!) {
      supplementMaterials(input: $input) { application { status } userErrors { code } }
    }"""
    given = [{"name": "完税凭证", "provision": "UPLOAD", "reference": ref("tax-1")}]
    await api.data(supply, {"input": {"applicationId": app_id, "materials": given}}, citizen)
    doc = await api.state.db["applications"].find_one({})
    assert doc is not None
    svc = service_for(api.state)
    later = doc["supplement_due_at"] + timedelta(days=1)
    assert await expire_supplements(svc, later) == 0
    assert await remind_supplements(svc, doc["supplement_due_at"] - timedelta(hours=1)) == 0
    assert (await api.data(APP, {"id": app_id}, citizen))["application"]["status"] == "ACCEPTED"


def rental_input(key: str) -> dict[str, Any]:
    return {
        "matterCode": RENTAL,
        "idempotencyKey": key,
        "form": {"applicantName": "张三明", "idNumber": CITIZEN_ID, "phone": "13800000001"},
        "materials": [
            {"name": "公共租赁住房申请表", "provision": "UPLOAD", "reference": ref("f1")},
            {"name": "家庭成员身份证明", "provision": "UPLOAD", "reference": ref("f2")},
            {"name": "收入证明", "provision": "COMMITMENT"},
        ],
    }


async def test_commitment_approvals_are_post_checked_and_a_broken_one_revoked(
    api: Api, citizen: str, clerk: str, other_clerk: str
) -> None:
    sub = await api.data(SUBMIT, {"input": rental_input("promise-0001")}, citizen)
    app_id = sub["submitApplication"]["application"]["id"]
    plain = await submit(api, citizen, "promise-0002")
    for case in (app_id, plain):
        for mutation in (ACCEPT, APPROVE):
            await api.data(mutation, {"input": {"applicationId": case}}, clerk)
    queue = (await api.data(QUEUE, token=clerk))["postCheckQueue"]["nodes"]
    assert queue == [{"id": app_id, "status": "APPROVED", "postCheckRequired": True}]
    assert (await api.data(QUEUE, token=other_clerk))["postCheckQueue"]["nodes"] == []
    assert top_codes(await api.gql(QUEUE, token=citizen)) == ["FORBIDDEN"]

    async def check(token: str, **input: Any) -> dict[str, Any]:
        data = await api.gql(POST_CHECK, {"input": input}, token)
        return data

    broken = {"applicationId": app_id, "outcome": "BROKEN"}
    no_note = (await check(clerk, **broken))["data"]["recordPostCheck"]
    assert errors(no_note) == [("note", "NOTE_REQUIRED")]
    nothing = await check(clerk, applicationId=plain, outcome="PASSED")
    assert errors(nothing["data"]["recordPostCheck"]) == [("applicationId", "NO_COMMITMENT")]
    assert top_codes(await check(other_clerk, **broken, note="x")) == ["FORBIDDEN"]
    found = "税务数据显示收入超过保障标准"
    done = (await check(clerk, **broken, note=found))["data"]["recordPostCheck"]["application"]
    assert done["postCheckOutcome"] == "BROKEN"
    assert done["timeline"][-1] == {"action": "POST_CHECK", "note": found}
    assert (await api.data(QUEUE, token=clerk))["postCheckQueue"]["nodes"] == []
    again = (await check(clerk, **broken, note=found))["data"]["recordPostCheck"]
    assert errors(again) == [("applicationId", "INVALID_TRANSITION")]

    revoked = await api.data(REVOKE, {"input": {"applicationId": app_id, "reason": found}}, clerk)
    assert revoked["revokeApplication"]["application"]["status"] == "REVOKED"
    credit = await api.state.db["credit_events"].find_one({})
    assert credit is not None
    assert credit["kind"] == "BROKEN_COMMITMENT"
    actions = {e["action"] async for e in api.state.db["audit_events"].find({})}
    assert {"applications.post_check", "applications.revoke"} <= actions


async def test_revoking_an_approval_revokes_the_licence_in_the_wallet(
    api: Api, elder: str, clerk: str
) -> None:
    sub = await api.data(SUBMIT, {"input": elder_input("promise-0003", ELDER_ID)}, elder)
    app = sub["submitApplication"]["application"]
    assert app["status"] == "APPROVED"
    [licence] = [
        lic
        for lic in (await api.data(LICENCES, token=elder))["myLicences"]
        if lic["type"]["code"] == "LNRYDZ"
    ]
    assert licence["status"] == "VALID"
    reason = "核实申请人不符合条件"
    await api.data(REVOKE, {"input": {"applicationId": app["id"], "reason": reason}}, clerk)
    after = {lic["id"]: lic for lic in (await api.data(LICENCES, token=elder))["myLicences"]}
    assert after[licence["id"]]["status"] == "REVOKED"
    # No commitment, so no credit event; the audit records that the licence went too.
    assert await api.state.db["credit_events"].count_documents({}) == 0
    audit = await api.state.db["audit_events"].find_one({"action": "applications.revoke"})
    assert audit is not None
    assert audit["details"]["licence_revoked"] is True
    titles = [n["title"] for n in (await api.data(INBOX, token=elder))["inbox"]["nodes"]]
    assert "您的办件有新进展" in titles


class CardsFailingOnce:
    """The real cards service, except that its first `revoke_issued` fails (a wallet outage)."""

    def __init__(self, cards: Any) -> None:
        self.cards = cards
        self.calls = 0

    async def revoke_issued(self, licence_id: Any, reason: str, actor_id: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("wallet unavailable")
        return await self.cards.revoke_issued(licence_id, reason, actor_id)


async def test_a_failed_licence_withdrawal_is_finished_by_the_worker_once(
    api: Api, elder: str, clerk: str
) -> None:
    sub = await api.data(SUBMIT, {"input": elder_input("promise-0004", ELDER_ID)}, elder)
    app_id = object_id_from_global(sub["submitApplication"]["application"]["id"], "Application")
    # A commitment case whose approval delivered a licence (the elder card's instant approval
    # takes no commitment, so the flag is set on the stored case).
    await api.state.db["applications"].update_one({"_id": app_id}, {"$set": {"commitment": True}})
    real = service_for(api.state)
    cards = CardsFailingOnce(api.state.cards_service())
    svc = dataclasses.replace(real, sink=WalletSink(cards, real.store.record_delivery))
    user = await create_demo_user(api.state, CLERK)
    viewer = Viewer(
        user.id,
        "s",
        frozenset({Role.CLERK}),
        AssuranceLevel.L3,
        department_code=user.department_code,
    )

    revoked = await svc.revoke(viewer, app_id, "核实申请人不符合条件")
    assert revoked.status.value == "REVOKED"
    stored = await api.state.db["applications"].find_one({"_id": app_id})
    assert stored is not None
    assert stored["revocation_effects_pending"] is True
    licences = {
        lic["type"]["code"]: lic for lic in (await api.data(LICENCES, token=elder))["myLicences"]
    }
    assert licences["LNRYDZ"]["status"] == "VALID"  # the withdrawal failed
    audit = await api.state.db["audit_events"].find_one({"action": "applications.revoke"})
    assert audit is not None
    assert audit["details"]["effects_pending"] is True

    # A retried mutation cannot help (the case is REVOKED); the worker's pass does.
    assert (await housekeeping(svc, datetime.now(CHINA)))["revocations_finished"] == 1
    assert (await housekeeping(svc, datetime.now(CHINA)))["revocations_finished"] == 0
    licences = {
        lic["type"]["code"]: lic for lic in (await api.data(LICENCES, token=elder))["myLicences"]
    }
    assert licences["LNRYDZ"]["status"] == "REVOKED"
    assert await api.state.db["credit_events"].count_documents({"application_id": app_id}) == 1
    stored = await api.state.db["applications"].find_one({"_id": app_id})
    assert stored is not None
    assert "revocation_effects_pending" not in stored
    # Effects run again (a second worker, a lost acknowledgement) change nothing.
    assert await after_revocation(svc, Application.from_document(stored)) is False
    assert await api.state.db["credit_events"].count_documents({"application_id": app_id}) == 1
