"""Strawberry types of 申办 (output side): thin views over `models.Application`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import strawberry

from app.api_types import JSON
from app.ids import to_global_id
from applications import form_sealing, models
from applications.deadlines import SlaState, sla_state
from applications.delivery_types import ApplicationResult
from applications.workflow import Status
from matters.models import ResultDelivery

ApplicationStatus = strawberry.enum(
    Status,
    name="ApplicationStatus",
    description="Where an application stands (DRAFT → SUBMITTED → ACCEPTED … → APPROVED).",
)
SlaLight = strawberry.enum(
    SlaState, name="SlaState", description="亮灯: GREEN on time, YELLOW due soon, RED overdue."
)
MaterialProvision = strawberry.enum(
    models.Provision,
    name="MaterialProvision",
    description="How a material is provided: UPLOAD, LICENCE (免证办) or COMMITMENT (告知承诺).",
)


@strawberry.type(description="One step on an application's append-only timeline.")
class ApplicationEvent:
    at: datetime = strawberry.field(description="When it happened (UTC).")
    actor_role: str = strawberry.field(description="APPLICANT, AGENT, CLERK or SYSTEM.")
    action: str = strawberry.field(
        description="SUBMIT, ACCEPT, RETURN, APPROVE, REJECT, TRANSFER, WITHDRAW, "
        "INSTANT_APPROVAL or INSTANT_FALLBACK."
    )
    before: Status | None = strawberry.field(description="Status before the step.")
    after: Status | None = strawberry.field(description="Status after the step.")
    note: str | None = strawberry.field(description="Opinion, reason or 秒批 fallback reasons.")
    data: JSON | None = strawberry.field(
        description="Details (deficiencies, transfer departments)."
    )
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None, description="帮办代办: the principal (user id) an AGENT acted for."
    )


@strawberry.type(description="好差评: the applicant's rating of a finished application.")
class Rating:
    score: int = strawberry.field(description="1 非常不满意 … 5 非常满意.")
    comment: str | None = strawberry.field(description="Optional comment.")
    rated_at: datetime = strawberry.field(description="When it was given.")
    rectification_status: str | None = strawberry.field(
        description="差评整改: OPEN for a rating of 1–2 until the department closes it; else null."
    )
    rectification_due_at: datetime | None = strawberry.field(
        description="When the rectification must be closed (working days)."
    )


@strawberry.type(description="好差评 figures for a matter or a department.")
class RatingStats:
    count: int = strawberry.field(description="Ratings given.")
    average: float | None = strawberry.field(description="Mean score (1–5); null without any.")
    by_score: list[int] = strawberry.field(description="Counts of scores 1, 2, 3, 4, 5.")
    bad: int = strawberry.field(description="差评: ratings of 1 or 2 (each opens a rectification).")


@strawberry.type(description="A material as submitted.")
class SubmittedMaterial:
    name: str = strawberry.field(description="Material name, as in the guide.")
    provision: models.Provision = strawberry.field(description="How it was provided.")
    reference: str | None = strawberry.field(description="Upload or licence reference.")


@strawberry.type(description="申办: one application (办件) for one matter.")
class Application:
    app: strawberry.Private[models.Application]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Application", self.app.id))

    @strawberry.field(description="Current status.")
    def status(self) -> Status:
        return self.app.status

    @strawberry.field(description="办件编号 on the receipt (受理凭证).")
    def receipt_number(self) -> str | None:
        return self.app.receipt_number

    @strawberry.field(description="承诺办结时间: end of the last committed working day (UTC).")
    def due_at(self) -> datetime | None:
        return self.app.due_at

    @strawberry.field(description="Deadline light; finished cases say whether they were on time.")
    def sla_state(self) -> SlaState | None:
        a = self.app
        if a.due_at is None or a.submitted_at is None:
            return None
        return sla_state(
            a.submitted_at,
            a.due_at,
            a.committed_days,
            now=datetime.now(UTC),
            finished_at=a.finished_at,
        )

    @strawberry.field(description="事项编码.")
    def matter_code(self) -> str:
        return self.app.matter_code

    @strawberry.field(description="事项名称.")
    def matter_name(self) -> str:
        return self.app.matter_name

    @strawberry.field(description="办事情形 code.")
    def situation(self) -> str:
        return self.app.situation_code

    @strawberry.field(description="Handling department code (changes on transfer).")
    def department_code(self) -> str:
        return self.app.department_code

    @strawberry.field(description="Handling department name.")
    def department_name(self) -> str:
        return self.app.department_name

    @strawberry.field(description="The validated form data.")
    def form(self, info: strawberry.Info[Any, Any]) -> JSON:
        # Only the holder and the handling clerks reach a case: they see the form as typed.
        keyring = info.context.state.keyring
        return cast(JSON, form_sealing.open_form(self.app.form, self.app.form_sealed, keyring))

    @strawberry.field(description="Materials as submitted.")
    def materials(self) -> list[SubmittedMaterial]:
        return [
            SubmittedMaterial(name=m.name, provision=m.provision, reference=m.reference)
            for m in self.app.materials
        ]

    @strawberry.field(description="容缺: deferred materials still to be supplied.")
    def pending_supplements(self) -> list[str]:
        return self.app.pending_supplements

    @strawberry.field(description="容缺: when the pending supplements are due (working days).")
    def supplement_due_at(self) -> datetime | None:
        return self.app.supplement_due_at

    @strawberry.field(description="告知承诺 used: flagged for post-checking (事后核查).")
    def post_check_required(self) -> bool:
        return self.app.commitment

    @strawberry.field(description="告知承诺 post-check: PASSED or BROKEN; null until recorded.")
    def post_check_outcome(self) -> str | None:
        return (self.app.post_check or {}).get("outcome")

    @strawberry.field(description="帮办代办: true when an authorised agent submitted it.")
    def submitted_by_agent(self) -> bool:
        return self.app.agent_id is not None

    @strawberry.field(description="一件事: the bundle submission it belongs to, if any.")
    def bundle_id(self) -> strawberry.ID | None:
        b = self.app.bundle_id
        return strawberry.ID(to_global_id("BundleApplication", b)) if b else None

    @strawberry.field(description="一次性告知: every deficiency of a RETURNED application.")
    def deficiencies(self) -> list[str]:
        return self.app.deficiencies

    @strawberry.field(description="Why 秒批 fell back to manual review (empty otherwise).")
    def instant_reasons(self) -> list[str]:
        return self.app.instant_reasons

    @strawberry.field(
        description="The approval's result (e-licence data, delivery and tracking); null before."
    )
    def result(self) -> ApplicationResult | None:
        return ApplicationResult(app=self.app) if self.app.result is not None else None

    @strawberry.field(description="结果送达 chosen at submission (ELECTRONIC when none was asked).")
    def result_delivery_method(self) -> ResultDelivery:
        return ResultDelivery[str((self.app.delivery or {}).get("method") or "ELECTRONIC")]

    @strawberry.field(description="The applicant's rating, once given (never editable).")
    def rating(self) -> Rating | None:
        r = self.app.rating
        if r is None:
            return None
        fix = r.get("rectification") or {}
        return Rating(
            score=r["score"],
            comment=r.get("comment"),
            rated_at=r["at"],
            rectification_status=fix.get("status"),
            rectification_due_at=fix.get("due_at"),
        )

    @strawberry.field(description="When it was submitted.")
    def submitted_at(self) -> datetime | None:
        return self.app.submitted_at

    @strawberry.field(description="When it reached a final decision or was withdrawn.")
    def finished_at(self) -> datetime | None:
        return self.app.finished_at

    @strawberry.field(description="Every step so far, oldest first (全过程留痕).")
    def timeline(self) -> list[ApplicationEvent]:
        return [
            ApplicationEvent(
                at=e.at,
                actor_role=e.actor_role,
                action=e.action,
                before=e.before,
                after=e.after,
                note=e.note,
                data=cast(JSON, e.data) if e.data else None,
                on_behalf_of=(
                    strawberry.ID(to_global_id("User", e.on_behalf_of)) if e.on_behalf_of else None
                ),
            )
            for e in self.app.timeline
        ]
