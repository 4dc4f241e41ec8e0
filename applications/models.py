"""An application (办件) and its timeline, as read from MongoDB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId

from app.db import Document
from applications.workflow import Status


class Provision(StrEnum):
    """How a material is provided."""

    UPLOAD = "UPLOAD"  # a file (reference to an upload)
    LICENCE = "LICENCE"  # 免证办: a reference to an e-licence in the holder's wallet
    COMMITMENT = "COMMITMENT"  # 告知承诺: a signed commitment replaces the proof


@dataclass(frozen=True, slots=True)
class MaterialRef:
    name: str
    provision: Provision
    reference: str | None

    def to_document(self) -> Document:
        return {"name": self.name, "provision": self.provision.value, "reference": self.reference}


@dataclass(frozen=True, slots=True)
class Event:
    """One step on the timeline: append-only, never edited."""

    at: datetime
    actor_id: ObjectId | None  # None: the system (秒批, deadlines)
    actor_role: str  # APPLICANT / AGENT / CLERK / SYSTEM
    action: str
    before: Status | None
    after: Status | None
    note: str | None = None
    data: Document | None = None
    on_behalf_of: ObjectId | None = None  # 帮办代办: the principal an AGENT acted for

    def to_document(self) -> Document:
        doc: Document = {
            "at": self.at,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "before": self.before.value if self.before else None,
            "after": self.after.value if self.after else None,
            "note": self.note,
            "data": self.data,
        }
        if self.on_behalf_of is not None:
            doc["on_behalf_of"] = self.on_behalf_of
        return doc

    @classmethod
    def from_document(cls, doc: Document) -> Event:
        return cls(
            at=doc["at"],
            actor_id=doc.get("actor_id"),
            actor_role=doc["actor_role"],
            action=doc["action"],
            before=Status(doc["before"]) if doc.get("before") else None,
            after=Status(doc["after"]) if doc.get("after") else None,
            note=doc.get("note"),
            data=doc.get("data"),
            on_behalf_of=doc.get("on_behalf_of"),
        )


@dataclass(frozen=True, slots=True)
class Application:
    id: ObjectId
    rev: int
    applicant_id: ObjectId
    matter_code: str
    matter_name: str
    situation_code: str
    department_code: str
    department_name: str
    status: Status
    form: dict[str, Any]
    materials: list[MaterialRef]
    pending_supplements: list[str]
    commitment: bool
    receipt_number: str | None
    committed_days: int
    created_at: datetime
    submitted_at: datetime | None
    due_at: datetime | None
    finished_at: datetime | None
    deficiencies: list[str]
    instant_reasons: list[str]
    result: Document | None
    timeline: list[Event]
    rating: Document | None = None
    supplement_due_at: datetime | None = None
    agent_id: ObjectId | None = None  # 帮办代办: who submitted for the applicant
    agency_grant_id: ObjectId | None = None  # 帮办代办: the authorisation it was submitted under
    bundle_id: ObjectId | None = None  # 一件事: the bundle this case belongs to
    post_check: Document | None = None  # 告知承诺: the post-check's outcome, once recorded
    revoke_reason: str | None = None  # 撤销: why, and who (the worker finishes the effects)
    revoked_by: ObjectId | None = None
    result_name: str | None = None  # 审批结果名称 of the guide at submission
    result_pending: bool = False  # an e-licence result still to reach the wallet
    delivery: Document | None = None  # 结果送达: method, sealed address, shipment
    # The form's identity numbers and phones, sealed (`form` holds them masked); None for a
    # form without any, or one stored before forms were sealed. Opened by `form_sealing`.
    form_sealed: bytes | None = None

    @classmethod
    def from_document(cls, doc: Document) -> Application:
        return cls(
            id=doc["_id"],
            rev=doc["rev"],
            applicant_id=doc["applicant_id"],
            matter_code=doc["matter_code"],
            matter_name=doc["matter_name"],
            situation_code=doc["situation_code"],
            department_code=doc["department_code"],
            department_name=doc["department_name"],
            status=Status(doc["status"]),
            form=doc.get("form", {}),
            materials=[
                MaterialRef(m["name"], Provision(m["provision"]), m.get("reference"))
                for m in doc.get("materials", [])
            ],
            pending_supplements=list(doc.get("pending_supplements", [])),
            commitment=bool(doc.get("commitment")),
            receipt_number=doc.get("receipt_number"),
            committed_days=doc["committed_days"],
            created_at=doc["created_at"],
            submitted_at=doc.get("submitted_at"),
            due_at=doc.get("due_at"),
            finished_at=doc.get("finished_at"),
            deficiencies=list(doc.get("deficiencies", [])),
            instant_reasons=list(doc.get("instant_reasons", [])),
            result=doc.get("result"),
            timeline=[Event.from_document(e) for e in doc.get("timeline", [])],
            rating=doc.get("rating"),
            supplement_due_at=doc.get("supplement_due_at"),
            agent_id=doc.get("agent_id"),
            agency_grant_id=doc.get("agency_grant_id"),
            bundle_id=doc.get("bundle_id"),
            post_check=doc.get("post_check"),
            revoke_reason=doc.get("revoke_reason"),
            revoked_by=doc.get("revoked_by"),
            result_name=doc.get("result_name"),
            result_pending=bool(doc.get("result_pending")),
            delivery=doc.get("delivery"),
            form_sealed=doc.get("form_sealed"),
        )
