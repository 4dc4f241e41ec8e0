"""GB/T 39734 export and KPIs through HTTP: who may, what is masked, what is counted."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from app.db import ensure_indexes
from applications.deadlines import CHINA
from tests.applications.conftest import clerk_mutation, elder_input, errors, top_codes
from tests.applications.test_indexes import index_names
from tests.applications.test_process import submit
from tests.applications.test_submit import ELDER_ID
from tests.factories import Api

ACCEPT = clerk_mutation("acceptApplication", "AcceptApplicationInput")
APPROVE = clerk_mutation("approveApplication", "ApproveApplicationInput")
SUBMIT = """
mutation S($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id status } userErrors { code } }
}"""
RATE = """
mutation R($input: RateApplicationInput!) {
  rateApplication(input: $input) { userErrors { field code } }
}"""
EXPORT = """
mutation E($input: ExportRatingsInput!) {
  exportRatings(input: $input) {
    export { format content rows truncated }
    userErrors { field code message }
  }
}"""
KPIS = """
query K($from: Date!, $to: Date!, $dept: String, $period: KpiPeriod) {
  applicationKpis(from: $from, to: $to, departmentCode: $dept, period: $period) {
    total { submitted instantApprovals decided onTime onTimeRate averageHandlingDays }
    byMatter { matterCode departmentCode submitted instantApprovals decided }
    instantByPeriod { period count }
  }
}"""
BUSINESS_DEPT = "370202-XZSPJ"


def today() -> str:
    return datetime.now(UTC).astimezone(CHINA).date().isoformat()


async def two_rated_cases(api: Api, citizen: str, elder: str, clerk: str) -> None:
    """A manual case rated 2 (its comment looks like a formula) and a 秒批 case rated 5."""
    manual = await submit(api, citizen, "report-0001")
    for mutation in (ACCEPT, APPROVE):
        await api.data(mutation, {"input": {"applicationId": manual}}, clerk)
    rating = {"applicationId": manual, "score": 2, "comment": "=HYPERLINK(1)"}
    await api.data(RATE, {"input": rating}, citizen)
    instant = await api.data(SUBMIT, {"input": elder_input("report-0002", ELDER_ID)}, elder)
    app = instant["submitApplication"]["application"]
    assert app["status"] == "APPROVED"
    await api.data(RATE, {"input": {"applicationId": app["id"], "score": 5}}, elder)


async def export(api: Api, token: str, **input: Any) -> dict[str, Any]:
    variables = {"input": {"from": today(), "to": today(), **input}}
    return dict(await api.gql(EXPORT, variables, token))


async def test_admins_export_ratings_in_the_national_format_masked_and_audited(
    api: Api, citizen: str, elder: str, clerk: str, admin: str
) -> None:
    await two_rated_cases(api, citizen, elder, clerk)
    result = (await export(api, admin))["data"]["exportRatings"]["export"]
    assert result["rows"] == 2
    assert result["truncated"] is False
    rows = list(csv.DictReader(io.StringIO(result["content"])))
    assert [r["评价等级"] for r in rows] == ["2", "5"]
    assert rows[0]["评价等级名称"] == "不满意"
    assert rows[0]["评价人姓名"] == "张*明"
    assert rows[1]["评价人证件号码"] == ELDER_ID[:4] + "*" * 10 + ELDER_ID[-4:]
    assert ELDER_ID not in result["content"]
    assert rows[0]["评价内容"] == "'=HYPERLINK(1)"  # no formula reaches a spreadsheet
    assert rows[0]["整改状态"] == "待整改"
    assert rows[1]["整改状态"] == ""
    assert {r["评价对象类型"] for r in rows} == {"办件"}

    lines = (await export(api, admin, format="JSONL"))["data"]["exportRatings"]["export"]
    records = [json.loads(line) for line in lines["content"].splitlines()]
    assert [r["评价等级"] for r in records] == [2, 5]
    assert records[0]["实施机构编码"] == BUSINESS_DEPT
    audits = await api.state.db["audit_events"].count_documents(
        {"action": "applications.ratings.export"}
    )
    assert audits == 2


async def test_who_may_export_and_bad_ranges(
    api: Api,
    citizen: str,
    elder: str,
    clerk: str,
    supervisor: str,
    other_supervisor: str,
    admin: str,
) -> None:
    await two_rated_cases(api, citizen, elder, clerk)
    own = (await export(api, supervisor, departmentCode=BUSINESS_DEPT))["data"]["exportRatings"]
    assert own["export"]["rows"] == 1
    foreign = await export(api, other_supervisor, departmentCode=BUSINESS_DEPT)
    assert top_codes(foreign) == ["FORBIDDEN"]
    assert top_codes(await export(api, citizen)) == ["FORBIDDEN"]
    assert top_codes(await export(api, clerk)) == ["FORBIDDEN"]
    day = datetime.now(UTC).astimezone(CHINA).date()
    backwards = await export(api, admin, **{"from": today(), "to": str(day - timedelta(days=1))})
    assert errors(backwards["data"]["exportRatings"]) == [("to", "INVALID_RANGE")]
    long = await export(api, admin, **{"from": str(day - timedelta(days=400))})
    assert errors(long["data"]["exportRatings"]) == [("to", "RANGE_TOO_LONG")]
    unknown = await export(api, admin, departmentCode="NOPE")
    assert errors(unknown["data"]["exportRatings"]) == [("departmentCode", "UNKNOWN_DEPARTMENT")]


async def test_kpis_count_instant_approvals_on_time_rate_and_handling_days(
    api: Api, citizen: str, elder: str, clerk: str, other_clerk: str, admin: str
) -> None:
    await two_rated_cases(api, citizen, elder, clerk)
    await submit(api, citizen, "report-0003")  # still open: submitted, not decided
    variables = {"from": today(), "to": today()}
    kpis = (await api.data(KPIS, variables, admin))["applicationKpis"]
    assert kpis["total"]["submitted"] == 3
    assert kpis["total"]["instantApprovals"] == 1
    assert kpis["total"]["decided"] == 2
    assert kpis["total"]["onTime"] == 2
    assert kpis["total"]["onTimeRate"] == 1.0
    assert 0 <= kpis["total"]["averageHandlingDays"] < 1
    assert kpis["instantByPeriod"] == [{"period": today(), "count": 1}]
    by = {r["departmentCode"]: r for r in kpis["byMatter"]}
    assert by[BUSINESS_DEPT]["submitted"] == 2
    assert by[BUSINESS_DEPT]["instantApprovals"] == 0
    monthly = await api.data(KPIS, {**variables, "period": "MONTH"}, admin)
    assert monthly["applicationKpis"]["instantByPeriod"] == [{"period": today()[:7], "count": 1}]

    # A clerk sees the departments they may process; another department's clerk does not.
    mine = await api.data(KPIS, {**variables, "dept": BUSINESS_DEPT}, clerk)
    assert [r["departmentCode"] for r in mine["applicationKpis"]["byMatter"]] == [BUSINESS_DEPT]
    assert top_codes(await api.gql(KPIS, {**variables, "dept": BUSINESS_DEPT}, other_clerk)) == [
        "FORBIDDEN"
    ]
    assert top_codes(await api.gql(KPIS, variables, citizen)) == ["FORBIDDEN"]
    backwards = await api.gql(KPIS, {"from": today(), "to": "2020-01-01"}, admin)
    assert top_codes(backwards) == ["INVALID_RANGE"]


async def test_report_queries_use_their_indexes(api: Api) -> None:
    db = api.state.db
    await ensure_indexes(db)
    now = datetime.now(UTC)
    await db["applications"].insert_many(
        [
            {
                "_id": ObjectId(),
                "applicant_id": ObjectId(),
                "idempotency_key": f"key-{i:08d}",
                "department_code": f"D{i % 5}",
                "submitted_at": now - timedelta(hours=i),
                "rating": {"at": now - timedelta(hours=i), "score": 3},
                "status": "ACCEPTED_PENDING_SUPPLEMENT",
                "supplement_due_at": now + timedelta(hours=i),
            }
            for i in range(40)
        ]
    )
    window = {"$gte": now - timedelta(days=1), "$lt": now}
    plans = {
        "department_submitted": {"department_code": "D1", "submitted_at": window},
        "department_rated": {"department_code": "D1", "rating.at": window},
        "supplement_due": {"status": "ACCEPTED_PENDING_SUPPLEMENT", "supplement_due_at": window},
    }
    for name, query in plans.items():
        plan = await db["applications"].find(query).explain()
        assert name in index_names(plan["queryPlanner"]["winningPlan"]), name


def test_spreadsheet_cells_are_made_inert() -> None:
    from applications.reporting import _inert

    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert _inert(formula) == "'" + formula
    for plain in ("", "很满意", "1", 5, None):
        assert _inert(plain) == plain
