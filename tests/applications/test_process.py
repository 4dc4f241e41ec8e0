"""Clerks' processing, the applicant's withdrawal and lists, and who may see and do what."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.applications.conftest import (
    APPLICATION,
    SUBMIT,
    business_input,
    clerk_mutation,
    errors,
    top_codes,
)
from tests.applications.uploading import upload_png
from tests.factories import Api

ACCEPT = clerk_mutation("acceptApplication", "AcceptApplicationInput")
RETURN = clerk_mutation("returnApplication", "ReturnApplicationInput")
APPROVE = clerk_mutation("approveApplication", "ApproveApplicationInput")
REJECT = clerk_mutation("rejectApplication", "RejectApplicationInput")
TRANSFER = clerk_mutation("transferApplication", "TransferApplicationInput")
WITHDRAW = clerk_mutation("withdrawApplication", "WithdrawApplicationInput")

MINE = """
query Mine($first: Int, $after: String, $status: ApplicationStatus) {
  myApplications(first: $first, after: $after, status: $status) {
    nodes { id status }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def submit(api: Api, token: str, key: str, *, own_uploads: bool = False) -> str:
    """The citizen fixture's business application; `own_uploads`: for another signed-in
    user, with uploads of their own (references must be the applicant's)."""
    sub = business_input(key)
    if own_uploads:
        for i, material in enumerate(sub["materials"]):
            material["reference"] = await upload_png(api, token, f"{key}-{i}")
    payload = (await api.data(SUBMIT, {"input": sub}, token))["submitApplication"]
    assert payload["userErrors"] == [], payload
    return str(payload["application"]["id"])


async def act(api: Api, mutation: str, token: str, **input: Any) -> dict[str, Any]:
    data = await api.data(mutation, {"input": input}, token)
    return dict(next(iter(data.values())))


async def test_clerk_accepts_and_approves_with_a_full_timeline(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await submit(api, citizen, "flow-000001")
    accepted = await act(api, ACCEPT, clerk, applicationId=app_id)
    assert accepted["application"]["status"] == "ACCEPTED"
    approved = await act(api, APPROVE, clerk, applicationId=app_id, note="符合条件")
    assert approved["application"]["status"] == "APPROVED"
    seen = (await api.data(APPLICATION, {"id": app_id}, citizen))["application"]
    steps = [(e["action"], e["before"], e["after"], e["actorRole"]) for e in seen["timeline"]]
    assert steps == [
        ("SUBMIT", "DRAFT", "SUBMITTED", "APPLICANT"),
        ("ACCEPT", "SUBMITTED", "ACCEPTED", "CLERK"),
        ("APPROVE", "ACCEPTED", "IN_REVIEW", "CLERK"),
        ("APPROVE", "IN_REVIEW", "APPROVED", "CLERK"),
    ]
    notices = await api.state.db["application_notices"].find({}).sort("at", 1).to_list(None)
    assert [n["after"] for n in notices] == ["SUBMITTED", "ACCEPTED", "APPROVED"]
    # After the decision: no withdrawal, no second decision.
    late = await act(api, WITHDRAW, citizen, applicationId=app_id)
    assert errors(late) == [("applicationId", "INVALID_TRANSITION")]
    again = await act(api, REJECT, clerk, applicationId=app_id, reason="重复")
    assert errors(again) == [("applicationId", "INVALID_TRANSITION")]


async def test_return_lists_every_deficiency_and_reject_needs_a_reason(
    api: Api, citizen: str, clerk: str
) -> None:
    first = await submit(api, citizen, "return-00001")
    empty = await act(api, RETURN, clerk, applicationId=first, deficiencies=["  "])
    assert errors(empty) == [("deficiencies", "DEFICIENCIES_REQUIRED")]
    returned = await act(
        api, RETURN, clerk, applicationId=first, deficiencies=["经营场所证明不清晰", "缺少签名"]
    )
    assert returned["application"]["status"] == "RETURNED"
    assert returned["application"]["deficiencies"] == ["经营场所证明不清晰", "缺少签名"]
    second = await submit(api, citizen, "reject-00001")
    await act(api, ACCEPT, clerk, applicationId=second)
    no_reason = await act(api, REJECT, clerk, applicationId=second, reason=" ")
    assert errors(no_reason) == [("reason", "REASON_REQUIRED")]
    rejected = await act(api, REJECT, clerk, applicationId=second, reason="经营范围不符合规定")
    assert rejected["application"]["status"] == "REJECTED"
    # Approving a case that was never accepted is an invalid transition, not a silent skip.
    third = await submit(api, citizen, "skip-0000001")
    skipped = await act(api, APPROVE, clerk, applicationId=third)
    assert errors(skipped) == [("applicationId", "INVALID_TRANSITION")]


async def test_transfer_moves_the_case_out_of_reach(api: Api, citizen: str, clerk: str) -> None:
    app_id = await submit(api, citizen, "transfer-001")
    unknown = await act(api, TRANSFER, clerk, applicationId=app_id, departmentCode="NOPE-1")
    assert errors(unknown) == [("departmentCode", "UNKNOWN_DEPARTMENT")]
    moved = await act(
        api, TRANSFER, clerk, applicationId=app_id, departmentCode="370200-GAJ", reason="属公安"
    )
    assert moved["application"]["departmentCode"] == "370200-GAJ"
    # The city 行政审批服务局 no longer handles it.
    after = await api.gql(ACCEPT, {"input": {"applicationId": app_id}}, clerk)
    assert top_codes(after) == ["FORBIDDEN"]
    timeline = (await api.data(APPLICATION, {"id": app_id}, citizen))["application"]["timeline"]
    assert timeline[-1]["data"] == {"from": "370202-XZSPJ", "to": "370200-GAJ"}


async def test_who_may_see_and_act(
    api: Api, citizen: str, elder: str, clerk: str, other_clerk: str
) -> None:
    app_id = await submit(api, citizen, "authz-000001")
    assert (await api.data(APPLICATION, {"id": app_id}, elder))["application"] is None
    assert (await api.data(APPLICATION, {"id": app_id}, other_clerk))["application"] is None
    assert (await api.data(APPLICATION, {"id": app_id}, clerk))["application"]["id"] == app_id
    assert top_codes(await api.gql(ACCEPT, {"input": {"applicationId": app_id}}, citizen)) == [
        "FORBIDDEN"
    ]
    assert top_codes(await api.gql(ACCEPT, {"input": {"applicationId": app_id}}, other_clerk)) == [
        "FORBIDDEN"
    ]
    theirs = await act(api, WITHDRAW, elder, applicationId=app_id)
    assert errors(theirs) == [("applicationId", "NOT_FOUND")]
    malformed = await act(api, ACCEPT, clerk, applicationId="not-an-id")
    assert errors(malformed) == [("applicationId", "INVALID_ID")]
    bad_query = await api.gql(APPLICATION, {"id": "xyz"}, citizen)
    assert top_codes(bad_query) == ["INVALID_ID"]
    assert (await api.data(APPLICATION, {"id": app_id}, citizen))["application"]["status"] == (
        "SUBMITTED"
    )


async def test_two_clerks_at_once_only_one_wins(api: Api, citizen: str, clerk: str) -> None:
    app_id = await submit(api, citizen, "race-0000001")
    results = await asyncio.gather(
        act(api, ACCEPT, clerk, applicationId=app_id),
        act(api, RETURN, clerk, applicationId=app_id, deficiencies=["缺材料"]),
        act(api, ACCEPT, clerk, applicationId=app_id),
    )
    winners = [r for r in results if r["application"] is not None]
    assert len(winners) == 1
    for loser in results:
        if loser["application"] is None:
            assert errors(loser)[0][1] in ("INVALID_TRANSITION", "CONCURRENT_CHANGE")
    timeline = (await api.data(APPLICATION, {"id": app_id}, citizen))["application"]["timeline"]
    assert len(timeline) == 2


async def test_my_applications_pages_and_filters(api: Api, citizen: str, elder: str) -> None:
    ids = [await submit(api, citizen, f"list-{i:08d}") for i in range(3)]
    withdrawn = await act(api, WITHDRAW, citizen, applicationId=ids[0], reason="不办了")
    assert withdrawn["application"]["status"] == "WITHDRAWN"
    page = (await api.data(MINE, {"first": 2}, citizen))["myApplications"]
    assert [n["id"] for n in page["nodes"]] == [ids[2], ids[1]]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await api.data(MINE, {"first": 2, "after": page["pageInfo"]["endCursor"]}, citizen)
    assert [n["id"] for n in rest["myApplications"]["nodes"]] == [ids[0]]
    only = (await api.data(MINE, {"status": "WITHDRAWN"}, citizen))["myApplications"]["nodes"]
    assert only == [{"id": ids[0], "status": "WITHDRAWN"}]
    assert (await api.data(MINE, {}, elder))["myApplications"]["nodes"] == []
    too_many = await api.gql(MINE, {"first": 500}, citizen)
    assert top_codes(too_many) == ["INVALID_PAGINATION"]
