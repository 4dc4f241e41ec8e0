"""容缺 supplements, 好差评 ratings and revocation, through HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

from auth.identity_numbers import with_check_digit
from tests.applications.conftest import (
    APPLICATION,
    BUSINESS,
    PROPERTY,
    RENTAL,
    SUBMIT,
    business_input,
    clerk_mutation,
    errors,
    ref,
    top_codes,
)
from tests.applications.test_process import ACCEPT, APPROVE, WITHDRAW, act, submit
from tests.factories import Api

SUPPLEMENT = clerk_mutation("supplementMaterials", "SupplementMaterialsInput")
REVOKE = clerk_mutation("revokeApplication", "RevokeApplicationInput")
RATE = """
mutation Rate($input: RateApplicationInput!) {
  rateApplication(input: $input) {
    application { id rating { score comment ratedAt rectificationStatus rectificationDueAt } }
    userErrors { field code message }
  }
}"""


def upload(name: str, reference: str) -> dict[str, str]:
    return {"name": name, "provision": "UPLOAD", "reference": ref(reference)}


def property_input(key: str) -> dict[str, Any]:
    names = ["不动产登记申请书", "申请人身份证明", "不动产权属来源证明"]
    return {
        "matterCode": PROPERTY,
        "idempotencyKey": key,
        "deferralCommitment": True,
        "form": {
            "applicantType": "个人",
            "applicantName": "张三明",
            "idNumber": with_check_digit("37020219850615123"),
            "phone": "13800000001",
        },
        "materials": [
            {"name": n, "provision": "UPLOAD", "reference": ref(f"f{i}")}
            for i, n in enumerate(names)
        ],
    }


async def test_deferred_material_supplied_later_completes_acceptance(
    api: Api, citizen: str, clerk: str
) -> None:
    sub = await api.data(SUBMIT, {"input": property_input("defer-00001")}, citizen)
    app_id = sub["submitApplication"]["application"]["id"]
    early = await act(
        api, SUPPLEMENT, citizen, applicationId=app_id, materials=[upload("完税凭证", "t")]
    )
    assert errors(early) == [("applicationId", "INVALID_TRANSITION")]
    accepted = await act(api, ACCEPT, clerk, applicationId=app_id)
    assert accepted["application"]["status"] == "ACCEPTED_PENDING_SUPPLEMENT"
    due = await api.data(
        "query A($id: ID!) { application(id: $id) { supplementDueAt } }", {"id": app_id}, citizen
    )
    assert due["application"]["supplementDueAt"] is not None
    # Approval must wait for the deferred material.
    blocked = await act(api, APPROVE, clerk, applicationId=app_id)
    assert errors(blocked) == [("applicationId", "INVALID_TRANSITION")]
    wrong = await act(
        api, SUPPLEMENT, citizen, applicationId=app_id, materials=[upload("结婚证", "t")]
    )
    assert errors(wrong) == [("materials[0].name", "NOT_PENDING")]
    done = await act(
        api, SUPPLEMENT, citizen, applicationId=app_id, materials=[upload("完税凭证", "tax")]
    )
    assert done["application"]["status"] == "ACCEPTED"
    approved = await act(api, APPROVE, clerk, applicationId=app_id)
    assert approved["application"]["status"] == "APPROVED"
    timeline = (await api.data(APPLICATION, {"id": app_id}, citizen))["application"]["timeline"]
    assert [e["action"] for e in timeline] == [
        "SUBMIT",
        "ACCEPT",
        "SUPPLEMENT",
        "APPROVE",
        "APPROVE",
    ]
    assert timeline[2]["actorRole"] == "APPLICANT"


async def test_rating_once_after_completion_by_the_applicant_only(
    api: Api, citizen: str, elder: str, clerk: str
) -> None:
    app_id = await submit(api, citizen, "rate-0000001")
    early = await api.data(RATE, {"input": {"applicationId": app_id, "score": 5}}, citizen)
    assert errors(early["rateApplication"]) == [("applicationId", "NOT_FINISHED")]
    await act(api, ACCEPT, clerk, applicationId=app_id)
    await act(api, APPROVE, clerk, applicationId=app_id)
    bad = await api.data(RATE, {"input": {"applicationId": app_id, "score": 6}}, citizen)
    assert errors(bad["rateApplication"]) == [("score", "INVALID_SCORE")]
    stranger = await api.data(RATE, {"input": {"applicationId": app_id, "score": 1}}, elder)
    assert errors(stranger["rateApplication"]) == [("applicationId", "NOT_FOUND")]
    both = await asyncio.gather(
        api.data(RATE, {"input": {"applicationId": app_id, "score": 5, "comment": "快"}}, citizen),
        api.data(RATE, {"input": {"applicationId": app_id, "score": 1}}, citizen),
    )
    outcomes = sorted(bool(r["rateApplication"]["application"]) for r in both)
    assert outcomes == [False, True]
    loser = next(r for r in both if not r["rateApplication"]["application"])
    assert errors(loser["rateApplication"]) == [("applicationId", "ALREADY_RATED")]
    winner = next(r for r in both if r["rateApplication"]["application"])
    rating = winner["rateApplication"]["application"]["rating"]
    # A bad rating (1–2) opens a rectification with a deadline; a good one does not.
    if rating["score"] == 1:
        assert rating["rectificationStatus"] == "OPEN"
        assert rating["rectificationDueAt"] is not None
    else:
        assert rating["rectificationStatus"] is None
    query = "query A($id: ID!) { application(id: $id) { rating { score } } }"
    score = (await api.data(query, {"id": app_id}, citizen))["application"]["rating"]["score"]
    assert score == rating["score"]


async def test_revocation_needs_a_clerk_a_reason_and_an_approval(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await submit(api, citizen, "revoke-00001")
    too_early = await act(api, REVOKE, clerk, applicationId=app_id, reason="承诺不实")
    assert errors(too_early) == [("applicationId", "INVALID_TRANSITION")]
    await act(api, ACCEPT, clerk, applicationId=app_id)
    await act(api, APPROVE, clerk, applicationId=app_id)
    no_reason = await act(api, REVOKE, clerk, applicationId=app_id, reason="")
    assert errors(no_reason) == [("reason", "REASON_REQUIRED")]
    by_citizen = await api.gql(REVOKE, {"input": {"applicationId": app_id, "reason": "x"}}, citizen)
    assert top_codes(by_citizen) == ["FORBIDDEN"]
    bad = await api.data(RATE, {"input": {"applicationId": app_id, "score": 2}}, citizen)
    assert bad["rateApplication"]["application"]["rating"]["rectificationStatus"] == "OPEN"
    stats_query = """query R($m: String, $d: String) {
      ratingStats(matterCode: $m, departmentCode: $d) { count average byScore bad } }"""
    stats = (await api.data(stats_query, {"m": BUSINESS}))["ratingStats"]
    assert stats == {"count": 1, "average": 2.0, "byScore": [0, 1, 0, 0, 0], "bad": 1}
    other = (await api.data(stats_query, {"d": "370200-GAJ"}))["ratingStats"]
    assert other == {"count": 0, "average": None, "byScore": [0, 0, 0, 0, 0], "bad": 0}
    assert top_codes(await api.gql(stats_query, {})) == ["FILTER_REQUIRED"]
    revoked = await act(api, REVOKE, clerk, applicationId=app_id, reason="经核查承诺不实")
    assert revoked["application"]["status"] == "REVOKED"


async def test_business_input_is_reusable(api: Api, citizen: str) -> None:
    # Guard for the helpers above: the base submission is valid as it stands.
    payload = await api.data(SUBMIT, {"input": business_input("helper-00001")}, citizen)
    assert payload["submitApplication"]["userErrors"] == []


RESUBMIT = clerk_mutation("resubmitApplication", "ResubmitApplicationInput")
RETURN = clerk_mutation("returnApplication", "ReturnApplicationInput")
QUEUE = """
query Q($first: Int, $after: String) {
  applicationQueue(first: $first, after: $after) {
    nodes { id status dueAt }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_one_correction_round(api: Api, citizen: str, clerk: str) -> None:
    app_id = await submit(api, citizen, "correct-0001")
    await act(api, RETURN, clerk, applicationId=app_id, deficiencies=["经营范围填写不规范"])
    base = business_input("unused-key")
    bad = await act(
        api,
        RESUBMIT,
        citizen,
        applicationId=app_id,
        form={**base["form"], "phone": "1"},
        materials=base["materials"],
    )
    assert errors(bad) == [("form.phone", "INVALID_PHONE")]
    fixed_form = {**base["form"], "businessScope": "餐饮服务（小吃）"}
    again = await act(
        api, RESUBMIT, citizen, applicationId=app_id, form=fixed_form, materials=base["materials"]
    )
    assert again["application"]["status"] == "SUBMITTED"
    assert again["application"]["deficiencies"] == []
    await act(api, RETURN, clerk, applicationId=app_id, deficiencies=["仍不规范"])
    twice = await act(
        api, RESUBMIT, citizen, applicationId=app_id, form=fixed_form, materials=base["materials"]
    )
    assert errors(twice) == [("applicationId", "CORRECTION_ROUND_USED")]


async def test_clerk_queue_is_ordered_by_deadline_and_scoped(
    api: Api, citizen: str, clerk: str, other_clerk: str
) -> None:
    # 不动产登记 commits 5 working days, 个体工商户设立登记 0 (即办): the latter is due first.
    slow = await api.data(SUBMIT, {"input": property_input("queue-00001")}, citizen)
    slow_id = slow["submitApplication"]["application"]["id"]
    fast_id = await submit(api, citizen, "queue-00002")
    done_id = await submit(api, citizen, "queue-00003")
    await act(api, WITHDRAW, citizen, applicationId=done_id)
    nodes = (await api.data(QUEUE, {}, clerk))["applicationQueue"]["nodes"]
    assert [n["id"] for n in nodes] == [fast_id, slow_id]
    page = (await api.data(QUEUE, {"first": 1}, clerk))["applicationQueue"]
    rest = await api.data(QUEUE, {"first": 1, "after": page["pageInfo"]["endCursor"]}, clerk)
    assert [n["id"] for n in rest["applicationQueue"]["nodes"]] == [slow_id]
    assert (await api.data(QUEUE, {}, other_clerk))["applicationQueue"]["nodes"] == []
    assert top_codes(await api.gql(QUEUE, {}, citizen)) == ["FORBIDDEN"]


async def test_commitment_replaces_proof_and_flags_post_check(api: Api, citizen: str) -> None:
    query = """mutation S($input: SubmitApplicationInput!) {
      submitApplication(input: $input) {
        application { status postCheckRequired materials { name provision reference } }
        userErrors { field code }
      }
    }"""
    sub: dict[str, Any] = {
        "matterCode": RENTAL,
        "idempotencyKey": "rental-00001",
        "form": {
            "applicantName": "张三明",
            "idNumber": with_check_digit("37020219850615123"),
            "phone": "13800000001",
        },
        "materials": [
            upload("公共租赁住房申请表", "f1"),
            upload("家庭成员身份证明", "f2"),
            {"name": "收入证明", "provision": "COMMITMENT"},
        ],
    }
    payload = (await api.data(query, {"input": sub}, citizen))["submitApplication"]
    assert payload["userErrors"] == []
    app = payload["application"]
    assert app["postCheckRequired"] is True
    assert app["materials"][2] == {"name": "收入证明", "provision": "COMMITMENT", "reference": None}
    # Only the material the catalogue allows may be replaced by a commitment.
    sub["idempotencyKey"] = "rental-00002"
    sub["materials"][1] = {"name": "家庭成员身份证明", "provision": "COMMITMENT"}
    payload = (await api.data(query, {"input": sub}, citizen))["submitApplication"]
    assert payload["userErrors"] == [
        {"field": "materials[1].provision", "code": "COMMITMENT_NOT_ALLOWED"},
        {"field": "materials", "code": "MISSING_MATERIAL"},  # so it is still missing
    ]
