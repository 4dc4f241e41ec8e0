"""好差评 close-out and feedback tickets through HTTP: one ticket model, supervisors close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.applications.conftest import BUSINESS, clerk_mutation, errors, top_codes
from tests.applications.test_process import submit
from tests.factories import Api

ACCEPT = clerk_mutation("acceptApplication", "AcceptApplicationInput")
APPROVE = clerk_mutation("approveApplication", "ApproveApplicationInput")
RATE = """
mutation R($input: RateApplicationInput!) {
  rateApplication(input: $input) {
    application { rating { score rectificationStatus rectificationDueAt } }
    userErrors { field code }
  }
}"""
RATING = "query A($id: ID!) { application(id: $id) { rating { rectificationStatus } } }"
TICKET_FIELDS = """id kind status departmentCode applicationId matterCode content dueAt slaState
                   reply closedAt history { action after note }"""
QUEUE = f"""
query Q($kind: TicketKind, $overdueOnly: Boolean!) {{
  ticketQueue(kind: $kind, overdueOnly: $overdueOnly) {{ nodes {{ {TICKET_FIELDS} }} }}
}}"""
START = f"""
mutation S($input: StartTicketInput!) {{
  startTicket(input: $input) {{ ticket {{ {TICKET_FIELDS} }} userErrors {{ field code }} }}
}}"""
CLOSE = f"""
mutation C($input: CloseTicketInput!) {{
  closeTicket(input: $input) {{ ticket {{ {TICKET_FIELDS} }} userErrors {{ field code }} }}
}}"""
FEEDBACK = f"""
mutation F($input: SubmitFeedbackInput!) {{
  submitFeedback(input: $input) {{ ticket {{ {TICKET_FIELDS} }} userErrors {{ field code }} }}
}}"""
MY_FEEDBACK = "query { myFeedback { nodes { id kind status reply } } }"


async def finished_case(api: Api, citizen: str, clerk: str, key: str) -> str:
    app_id = await submit(api, citizen, key)
    for mutation in (ACCEPT, APPROVE):
        await api.data(mutation, {"input": {"applicationId": app_id}}, clerk)
    return app_id


async def queue(api: Api, token: str, **args: Any) -> list[dict[str, Any]]:
    variables = {"overdueOnly": False, **args}
    return list((await api.data(QUEUE, variables, token))["ticketQueue"]["nodes"])


async def test_a_bad_rating_is_closed_out_by_a_supervisor_with_a_reply(
    api: Api, citizen: str, clerk: str, supervisor: str, other_supervisor: str
) -> None:
    app_id = await finished_case(api, citizen, clerk, "ticket-0001")
    rated = await api.data(
        RATE, {"input": {"applicationId": app_id, "score": 1, "comment": "太慢"}}, citizen
    )
    assert rated["rateApplication"]["application"]["rating"]["rectificationStatus"] == "OPEN"
    [ticket] = await queue(api, supervisor, kind="RECTIFICATION")
    assert ticket["applicationId"] == app_id
    assert ticket["content"] == "太慢"
    assert ticket["status"] == "OPEN"
    assert ticket["slaState"] == "GREEN"
    assert await queue(api, other_supervisor) == []

    # A clerk takes it into work but may not close it; another department may do neither.
    started = await api.data(START, {"input": {"ticketId": ticket["id"]}}, clerk)
    assert started["startTicket"]["ticket"]["status"] == "IN_PROGRESS"
    refused = await api.gql(CLOSE, {"input": {"ticketId": ticket["id"], "reply": "已整改"}}, clerk)
    assert top_codes(refused) == ["FORBIDDEN"]
    foreign = await api.gql(
        CLOSE, {"input": {"ticketId": ticket["id"], "reply": "已整改"}}, other_supervisor
    )
    assert top_codes(foreign) == ["FORBIDDEN"]
    empty = await api.data(CLOSE, {"input": {"ticketId": ticket["id"], "reply": "  "}}, supervisor)
    assert errors(empty["closeTicket"]) == [("reply", "REPLY_REQUIRED")]

    reply = "已约谈窗口人员并压缩办理时限"
    close = {"input": {"ticketId": ticket["id"], "reply": reply}}
    closed = await api.data(CLOSE, close, supervisor)
    done = closed["closeTicket"]["ticket"]
    assert (done["status"], done["reply"]) == ("CLOSED", reply)
    assert [h["action"] for h in done["history"]] == ["OPEN", "START", "CLOSE"]
    rating = (await api.data(RATING, {"id": app_id}, citizen))["application"]["rating"]
    assert rating["rectificationStatus"] == "CLOSED"
    assert await queue(api, supervisor) == []
    again = await api.data(CLOSE, close, supervisor)
    assert errors(again["closeTicket"]) == [("ticketId", "INVALID_TRANSITION")]

    # The rater hears back, and the close-out is audited.
    told = (await api.data("query { inbox { nodes { body } } }", token=citizen))["inbox"]["nodes"]
    assert any(reply in n["body"] for n in told)
    audit = await api.state.db["audit_events"].find_one({"action": "applications.ticket.close"})
    assert audit is not None


async def test_overdue_tickets_are_red_and_listed_apart(
    api: Api, citizen: str, clerk: str, supervisor: str
) -> None:
    app_id = await finished_case(api, citizen, clerk, "ticket-0002")
    await api.data(RATE, {"input": {"applicationId": app_id, "score": 2}}, citizen)
    assert await queue(api, supervisor, overdueOnly=True) == []
    past = datetime.now(UTC) - timedelta(days=1)
    await api.state.db["application_tickets"].update_one({}, {"$set": {"due_at": past}})
    [late] = await queue(api, supervisor, overdueOnly=True)
    assert late["slaState"] == "RED"
    # A good rating opens nothing.
    good = await finished_case(api, citizen, clerk, "ticket-0003")
    await api.data(RATE, {"input": {"applicationId": good, "score": 5}}, citizen)
    assert len(await queue(api, supervisor)) == 1


async def test_complaints_and_cannot_get_done_reports_are_tracked(
    api: Api, citizen: str, clerk: str, supervisor: str, admin: str
) -> None:
    app_id = await submit(api, citizen, "ticket-0004")
    complaint = {
        "kind": "COMPLAINT",
        "content": "窗口让我跑了两次",
        "idempotencyKey": "fb-000001",
        "applicationId": app_id,
    }
    first = (await api.data(FEEDBACK, {"input": complaint}, citizen))["submitFeedback"]
    assert first["userErrors"] == []
    again = (await api.data(FEEDBACK, {"input": complaint}, citizen))["submitFeedback"]
    assert again["ticket"]["id"] == first["ticket"]["id"]
    stuck = {
        "kind": "CANNOT_GET_DONE",
        "content": "找不到办理入口",
        "idempotencyKey": "fb-000002",
        "matterCode": BUSINESS,
    }
    report = (await api.data(FEEDBACK, {"input": stuck}, citizen))["submitFeedback"]["ticket"]
    assert report["matterCode"] == BUSINESS
    assert report["departmentCode"] == first["ticket"]["departmentCode"]
    # 办不成事 is urgent: due one working day later, before the complaint's five.
    assert report["dueAt"] < first["ticket"]["dueAt"]
    mine = (await api.data(MY_FEEDBACK, token=citizen))["myFeedback"]["nodes"]
    assert [t["kind"] for t in mine] == ["CANNOT_GET_DONE", "COMPLAINT"]
    assert [t["kind"] for t in await queue(api, admin)] == ["CANNOT_GET_DONE", "COMPLAINT"]
    closed = await api.data(
        CLOSE, {"input": {"ticketId": report["id"], "reply": "已开通入口"}}, supervisor
    )
    assert closed["closeTicket"]["ticket"]["status"] == "CLOSED"
    # Citizens cannot see the staff queue.
    assert top_codes(await api.gql(QUEUE, {"overdueOnly": False}, citizen)) == ["FORBIDDEN"]


async def test_bad_feedback_gets_typed_errors_and_writes_nothing(
    api: Api, citizen: str, clerk: str
) -> None:
    others = await submit(api, clerk, "ticket-0005")  # the clerk's own application
    base = {"kind": "COMPLAINT", "content": "内容", "idempotencyKey": "fb-000010"}
    cases = [
        ({"kind": "RECTIFICATION", "matterCode": BUSINESS}, ("kind", "INVALID_KIND")),
        ({"content": " ", "matterCode": BUSINESS}, ("content", "INVALID_CONTENT")),
        ({"content": "长" * 1001, "matterCode": BUSINESS}, ("content", "INVALID_CONTENT")),
        ({}, ("applicationId", "SUBJECT_REQUIRED")),
        ({"applicationId": others}, ("applicationId", "NOT_FOUND")),
        ({"matterCode": "NOPE000000"}, ("matterCode", "NOT_FOUND")),
        ({"departmentCode": "NOPE"}, ("departmentCode", "UNKNOWN_DEPARTMENT")),
        (
            {"idempotencyKey": "short", "matterCode": BUSINESS},
            ("idempotencyKey", "INVALID_IDEMPOTENCY_KEY"),
        ),
    ]
    for extra, expected in cases:
        payload = await api.data(FEEDBACK, {"input": {**base, **extra}}, citizen)
        assert errors(payload["submitFeedback"]) == [expected], extra
    assert await api.state.db["application_tickets"].count_documents({}) == 0
