"""秒批 at submission: turn a new case into an approved one when every rule passes.

Runs before the case is inserted, so an instant approval is one write with its whole timeline
(SUBMITTED → ACCEPTED → IN_REVIEW → APPROVED by SYSTEM) and its result; a fallback records the
reasons and leaves the case SUBMITTED for a clerk.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from applications import instant, materials
from applications.deadlines import CHINA
from applications.models import Event
from applications.results import ResultSpec, build_result
from applications.workflow import Status
from auth.models import User
from matters.models import Matter


def decide_instantly(
    doc: dict[str, Any],
    matter: Matter,
    user: User,
    id_number: str | None,
    checked: materials.MaterialCheck,
    now: datetime,
) -> ResultSpec | None:
    """Evaluate 秒批; on success turn `doc` into an approved case and return its result."""
    facts = instant.Facts(doc["form"], id_number, user.region_code, now.astimezone(CHINA).date())
    reasons = instant.evaluate(matter.name, facts)
    if checked.pending or checked.commitment:
        reasons.append("存在容缺或告知承诺材料，转人工审核")
    if reasons:
        doc["instant_reasons"] = reasons
        doc["timeline"].append(
            _system("INSTANT_FALLBACK", None, None, now, note="；".join(reasons))
        )
        return None
    steps = [Status.SUBMITTED, Status.ACCEPTED, Status.IN_REVIEW, Status.APPROVED]
    for before, after in itertools.pairwise(steps):
        doc["timeline"].append(_system("INSTANT_APPROVAL", before, after, now))
    doc["status"] = Status.APPROVED.value
    doc["finished_at"] = now
    if (doc.get("delivery") or {}).get("method") == "POST":
        doc["awaiting_shipment"] = True  # 待邮寄 (shipping.py) until the shipment is recorded
    doc["result"], spec = build_result(
        matter.result_name,
        matter_code=matter.code,
        holder_name=user.name or "",
        id_number=id_number,
        number=f"{doc['receipt_number']}",
        issuer=matter.department_name,
        issuer_code=matter.department_code,
        valid_from=now.astimezone(CHINA).date(),
    )
    if spec is not None:  # cleared by the delivery; the worker finishes it after a crash
        doc["result_pending"] = True
    return spec


def _system(
    action: str, before: Status | None, after: Status | None, at: datetime, note: str | None = None
) -> dict[str, Any]:
    return Event(at, None, "SYSTEM", action, before, after, note).to_document()
