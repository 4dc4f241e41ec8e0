"""Reporting: the GB/T 39734 好差评 export (E4) and the processing KPIs (H2, H4, B12).

Both read `applications` by department and time through the indexes declared in `flow_store`
(`department_rated`, `department_submitted`); KPIs are two aggregation pipelines (figures per
matter; instant approvals per period), not a scan in Python.

Who: the export, admins (any department or all) and supervisors (departments they may
process); KPIs, admins and the clerks or supervisors of the department. Each export leaves an
audit record (who, range, department, rows, format) — it carries personal data, masked as the
standard's publication rules allow: 评价人 name and identity number masked (`app.masking`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.db import Document
from app.errors import DomainError, ForbiddenError
from app.masking import mask_name, mask_number
from applications.deadlines import CHINA
from applications.departments import may_process
from applications.staff import audit
from applications.workflow import Status
from auth.models import Role
from auth.permissions import Viewer

if TYPE_CHECKING:
    from applications.service import ApplicationService

MAX_DAYS = 366
MAX_ROWS = 10_000
SCORE_NAMES = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}
CHANNEL_NAMES = {"APP": "移动端（APP）", "MINIPROGRAM": "小程序", "WEB": "网上"}
RECTIFICATION_NAMES = {"OPEN": "待整改", "IN_PROGRESS": "整改中", "CLOSED": "已整改"}

# GB/T 39734 record fields (anchors b11), in export order: Chinese names as in the exchange
# format, so a provincial 好差评 system reads the file without a mapping.
EXPORT_FIELDS = (
    "评价对象类型",
    "办件编号",
    "事项编码",
    "事项名称",
    "实施机构编码",
    "实施机构名称",
    "评价渠道",
    "评价等级",
    "评价等级名称",
    "评价内容",
    "是否实名",
    "评价人姓名",
    "评价人证件号码",
    "评价时间",
    "差评分类",
    "整改状态",
    "整改期限",
    "整改办结时间",
    "回访记录",
    "申诉复核",
)


class ExportFormat(StrEnum):
    CSV = "CSV"
    JSONL = "JSONL"


class KpiPeriod(StrEnum):
    DAY = "DAY"
    MONTH = "MONTH"


@dataclass(frozen=True, slots=True)
class RatingExport:
    format: ExportFormat
    content: str
    rows: int
    truncated: bool


def _range(start: date, end: date) -> tuple[datetime, datetime]:
    """China-time days [start, end] as UTC bounds [from, to)."""
    if end < start:
        raise DomainError("结束日期早于开始日期 (to before from)", code="INVALID_RANGE", field="to")
    if (end - start).days >= MAX_DAYS:
        raise DomainError(
            f"时间范围不能超过{MAX_DAYS}天 (range too long)", code="RANGE_TOO_LONG", field="to"
        )
    lower = datetime.combine(start, time.min, tzinfo=CHINA)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=CHINA)
    return lower, upper


def _row(doc: Document) -> dict[str, Any]:
    rating = doc["rating"]
    fix = rating.get("rectification") or {}
    form = doc.get("form") or {}
    name = form.get("applicantName") or form.get("operatorName") or form.get("legalRepresentative")
    id_number = form.get("idNumber")

    def iso(value: Any) -> str | None:
        return value.astimezone(CHINA).isoformat() if isinstance(value, datetime) else None

    return {
        "评价对象类型": "办件",
        "办件编号": doc.get("receipt_number"),
        "事项编码": doc["matter_code"],
        "事项名称": doc["matter_name"],
        "实施机构编码": doc["department_code"],
        "实施机构名称": doc["department_name"],
        "评价渠道": CHANNEL_NAMES.get(rating.get("channel", "APP"), rating.get("channel")),
        "评价等级": rating["score"],
        "评价等级名称": SCORE_NAMES[rating["score"]],
        "评价内容": rating.get("comment"),
        "是否实名": "是",  # only signed-in applicants of their own case can rate
        "评价人姓名": mask_name(name) if isinstance(name, str) else None,
        "评价人证件号码": mask_number(id_number) if isinstance(id_number, str) else None,
        "评价时间": iso(rating.get("at")),
        "差评分类": None,  # the rating form does not collect 差评 reasons yet
        "整改状态": RECTIFICATION_NAMES.get(fix.get("status", "")),
        "整改期限": iso(fix.get("due_at")),
        "整改办结时间": iso(fix.get("closed_at")),
        "回访记录": fix.get("reply"),
        "申诉复核": None,  # no appeal procedure yet
    }


def _render(rows: list[dict[str, Any]], fmt: ExportFormat) -> str:
    if fmt is ExportFormat.JSONL:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _inert(v) for k, v in r.items()})
    return out.getvalue()


def _inert(value: Any) -> Any:
    """A cell a spreadsheet will not run: a leading =, +, -, @, tab or carriage return starts a
    formula in some (CSV injection), so such text gets a leading apostrophe."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


class Reporting:
    def __init__(self, svc: ApplicationService) -> None:
        self.svc = svc

    async def _department(
        self, viewer: Viewer, code: str | None, roles: tuple[Role, ...]
    ) -> str | None:
        """The department filter the viewer may use; None: all (admins only)."""
        if viewer.has_role(Role.ADMIN):
            if code is not None and code not in {
                d.code for d in await self.svc.matters.departments()
            }:
                raise DomainError(
                    "部门不存在 (unknown department)",
                    code="UNKNOWN_DEPARTMENT",
                    field="departmentCode",
                )
            return code
        viewer.require_role(*roles)
        code = code or viewer.department_code
        if code is None or not may_process(viewer.department_code, code):
            raise ForbiddenError("只能查看本部门的数据 (own department only)")
        return code

    async def export_ratings(
        self,
        viewer: Viewer,
        start: date,
        end: date,
        department_code: str | None,
        fmt: ExportFormat,
    ) -> RatingExport:
        department = await self._department(viewer, department_code, (Role.SUPERVISOR,))
        lower, upper = _range(start, end)
        query: Document = {"rating.at": {"$gte": lower, "$lt": upper}}
        if department is not None:
            query["department_code"] = department
        projection = {
            k: 1
            for k in (
                "receipt_number", "matter_code", "matter_name", "department_code",
                "department_name", "rating", "form.applicantName", "form.operatorName",
                "form.legalRepresentative", "form.idNumber",
            )
        }  # fmt: skip
        cursor = (
            self.svc.store.apps.find(query, projection).sort("rating.at", 1).limit(MAX_ROWS + 1)
        )
        docs = await cursor.to_list(MAX_ROWS + 1)
        rows = [_row(d) for d in docs[:MAX_ROWS]]
        await audit(
            self.svc.store.db,
            "applications.ratings.export",
            viewer,
            department,
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "rows": len(rows),
                "format": fmt.value,
            },
        )
        return RatingExport(fmt, _render(rows, fmt), len(rows), len(docs) > MAX_ROWS)

    async def kpis(
        self,
        viewer: Viewer,
        start: date,
        end: date,
        department_code: str | None,
        period: KpiPeriod,
    ) -> dict[str, Any]:
        department = await self._department(viewer, department_code, (Role.CLERK, Role.SUPERVISOR))
        lower, upper = _range(start, end)
        match: Document = {"submitted_at": {"$gte": lower, "$lt": upper}}
        if department is not None:
            match["department_code"] = department
        decided = {
            "$or": [
                {"$eq": ["$status", s.value]}
                for s in (Status.APPROVED, Status.REJECTED, Status.REVOKED)
            ]
        }
        per_matter = [
            {"$match": match},
            {
                "$project": {
                    "matter_code": 1,
                    "matter_name": 1,
                    "department_code": 1,
                    "decided": decided,
                    "on_time": {"$and": [decided, {"$lte": ["$finished_at", "$due_at"]}]},
                    "handling_ms": {
                        "$cond": [decided, {"$subtract": ["$finished_at", "$submitted_at"]}, 0]
                    },
                }
            },
            {
                "$group": {
                    "_id": "$matter_code",
                    "matter_name": {"$first": "$matter_name"},
                    "department_code": {"$first": "$department_code"},
                    "submitted": {"$sum": 1},
                    "decided": {"$sum": {"$cond": ["$decided", 1, 0]}},
                    "on_time": {"$sum": {"$cond": ["$on_time", 1, 0]}},
                    "handling_ms": {"$sum": "$handling_ms"},
                }
            },
        ]
        fmt = "%Y-%m-%d" if period is KpiPeriod.DAY else "%Y-%m"
        instant = [
            {"$match": {**match, "timeline.action": "INSTANT_APPROVAL"}},
            {
                "$group": {
                    "_id": {
                        "matter": "$matter_code",
                        "period": {
                            "$dateToString": {
                                "format": fmt,
                                "date": "$submitted_at",
                                "timezone": "+08:00",
                            }
                        },
                    },
                    "n": {"$sum": 1},
                }
            },
        ]
        apps = self.svc.store.apps
        groups = [g async for g in await apps.aggregate(per_matter)]
        instants = [g async for g in await apps.aggregate(instant)]
        by_matter_instant: dict[str, int] = {}
        by_period: dict[str, int] = {}
        for g in instants:
            by_matter_instant[g["_id"]["matter"]] = (
                by_matter_instant.get(g["_id"]["matter"], 0) + g["n"]
            )
            by_period[g["_id"]["period"]] = by_period.get(g["_id"]["period"], 0) + g["n"]
        rows = [
            _figures(
                {
                    "matter_code": g["_id"],
                    "matter_name": g["matter_name"],
                    "department_code": g["department_code"],
                },
                g["submitted"],
                by_matter_instant.get(g["_id"], 0),
                g["decided"],
                g["on_time"],
                g["handling_ms"],
            )
            for g in sorted(groups, key=lambda g: g["_id"])
        ]
        total = _figures(
            {"matter_code": None, "matter_name": None, "department_code": department},
            sum(g["submitted"] for g in groups),
            sum(by_matter_instant.values()),
            sum(g["decided"] for g in groups),
            sum(g["on_time"] for g in groups),
            sum(g["handling_ms"] for g in groups),
        )
        return {
            "total": total,
            "by_matter": rows,
            "instant_by_period": sorted(by_period.items()),
        }


def _figures(
    base: dict[str, Any], submitted: int, instant: int, decided: int, on_time: int, ms: int
) -> dict[str, Any]:
    return {
        **base,
        "submitted": submitted,
        "instant_approvals": instant,
        "decided": decided,
        "on_time": on_time,
        "on_time_rate": round(on_time / decided, 4) if decided else None,
        "average_handling_days": round(ms / decided / 86_400_000, 2) if decided else None,
    }
