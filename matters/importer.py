"""Import from the province's exchange format: JSON (a list of matters, nested, Chinese or
English keys) or CSV (one row per material, matter-level columns repeated on each row).

Every rejected row is reported with the rule it broke. A matter is imported whole or not at all:
one bad row rejects all rows of its matter, and each accepted matter is written as one draft and
published in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from matters import rules
from matters.errors import ImportFormatError, QualityError
from matters.models import Matter

MAX_IMPORT_BYTES = 5_000_000
_LIST_SEPARATORS = str.maketrans({"；": ";", "、": ";", "，": ";", ",": ";"})


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int  # JSON: 1-based position in the list; CSV: 1-based line number after the header
    code: str | None
    rule: str
    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Parsed:
    matters: list[Matter]
    rejections: list[Rejection]


def parse(fmt: str, content: str) -> Parsed:
    if len(content.encode()) > MAX_IMPORT_BYTES:
        raise ImportFormatError("导入文件过大 (import over 5 MB)")
    if fmt == "JSON":
        return _parse_json(content)
    return _parse_csv(content)


def _parse_json(content: str) -> Parsed:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"JSON 格式错误 (malformed JSON: {exc.msg})") from exc
    if isinstance(data, dict):
        data = data.get("事项") or data.get("matters") or [data]
    if not isinstance(data, list):
        raise ImportFormatError("JSON 应为事项列表 (expected a list of matters)")
    accepted, rejected = [], []
    seen: set[str] = set()
    for n, item in enumerate(data, start=1):
        matter, problems = rules.parse(item)
        code = item.get("code") or item.get("基本编码") if isinstance(item, dict) else None
        if matter is not None and matter.code in seen:
            problems = [QualityError("DUPLICATE_CODE", "code", "同一文件中事项编码重复")]
        if matter is None or problems:
            rejected += [_reject(n, code, p) for p in problems]
        else:
            seen.add(matter.code)
            accepted.append(matter)
    return Parsed(accepted, rejected)


def _reject(row: int, code: Any, problem: QualityError) -> Rejection:
    return Rejection(row, str(code) if code else None, problem.rule, problem.field, problem.message)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.translate(_LIST_SEPARATORS).split(";") if v.strip()]


def _flag(value: str) -> bool:
    return value.strip() in ("是", "true", "True", "1", "Y")


def _rows(content: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    if not reader.fieldnames or "基本编码" not in reader.fieldnames:
        raise ImportFormatError("CSV 缺少表头「基本编码」 (missing header)")
    for n, row in enumerate(reader, start=1):
        yield n, {k: (v or "").strip() for k, v in row.items() if k}


def _matter_from_rows(rows: list[dict[str, str]]) -> dict[str, Any]:
    """One matter's nested document from its material rows (matter columns from the first)."""
    head = rows[0]
    situations: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = row.get("情形编码") or "01"
        situation = situations.setdefault(
            code, {"code": code, "name": row.get("情形名称") or "本人申请", "materials": []}
        )
        situation["materials"].append(
            {
                "name": row.get("材料名称", ""),
                "form": row.get("材料类型") or "原件",
                "copies": row.get("纸质材料份数") or 1,
                "required": _flag(row.get("是否必要", "是")),
                "deferrable": _flag(row.get("可容缺", "否")),
                "core": not _flag(row.get("可容缺", "否")),
                "replaceable_by_commitment": _flag(row.get("可告知承诺", "否")),
                "licence_type_code": row.get("电子证照类型") or None,
            }
        )
    fees = []
    if head.get("收费项目名称"):
        fees.append(
            {
                "name": head["收费项目名称"],
                "standard": head.get("收费标准", ""),
                "basis": head.get("收费依据", ""),
            }
        )
    return {
        "code": head.get("基本编码", ""),
        "name": head.get("事项名称", ""),
        "type": head.get("事项类型", ""),
        "department_code": head.get("实施主体编码", ""),
        "department_name": head.get("实施主体", ""),
        "region_code": head.get("行政区划代码", ""),
        "audiences": _split(head.get("服务对象", "")),
        "aliases": _split(head.get("俗称", "")),
        "conditions": _split(head.get("受理条件", "")),
        "situations": list(situations.values()),
        "legal_basis": [{"name": n} for n in _split(head.get("设定依据", ""))],
        "steps": [
            {"order": i + 1, "name": step}
            for i, step in enumerate(s for s in head.get("办理流程", "").split("→") if s)
        ],
        "statutory_days": head.get("法定办结时限", ""),
        "committed_days": head.get("承诺办结时限", ""),
        "charged": _flag(head.get("是否收费", "否")),
        "fees": fees,
        "online_payment": _flag(head.get("是否支持网上支付", "否")),
        "visits": head.get("到办事现场次数", ""),
        "online_depth": head.get("网上办理深度", ""),
        "service_modes": _split(head.get("服务方式", "")),
        "tongban_scope": head.get("通办范围") or "无",
        "channels": _split(head.get("办理形式", "")),
        "consultation_phone": head.get("咨询电话", ""),
        "complaint_phone": head.get("监督投诉电话", ""),
    }


def _parse_csv(content: str) -> Parsed:
    try:
        groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for n, row in _rows(content):
            groups.setdefault(row.get("基本编码", ""), []).append((n, row))
    except csv.Error as exc:
        raise ImportFormatError(f"CSV 格式错误 (malformed CSV: {exc})") from exc
    accepted, rejected = [], []
    for code, numbered in groups.items():
        matter, problems = rules.parse(_matter_from_rows([row for _, row in numbered]))
        if matter is not None:
            accepted.append(matter)
            continue
        # Material problems belong to their row, matter-level ones to the first row; every
        # other row of the matter is rejected with it, so no matter is imported in part.
        lines = {p.field: _row_of(p, numbered) for p in problems}
        for position, (n, _) in enumerate(numbered):
            mine = [
                p
                for p in problems
                if lines[p.field] == n or (lines[p.field] is None and position == 0)
            ] or [QualityError("MATTER_REJECTED", None, "同一事项的其他行有错误，整项未导入")]
            rejected += [_reject(n, code or None, p) for p in mine]
    return Parsed(accepted, rejected)


def _row_of(problem: QualityError, numbered: list[tuple[int, dict[str, str]]]) -> int | None:
    """The CSV line a material-level problem points at (situations.S.materials.M.…)."""
    parts = (problem.field or "").split(".")
    if len(parts) >= 4 and parts[0] == "situations" and parts[2] == "materials":
        situation, material = int(parts[1]), int(parts[3])
        seen: dict[str, int] = {}
        order: list[str] = []
        for n, row in numbered:
            key = row.get("情形编码") or "01"
            if key not in seen:
                seen[key] = 0
                order.append(key)
            if order.index(key) == situation and seen[key] == material:
                return n
            seen[key] += 1
    return None
