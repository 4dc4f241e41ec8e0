"""Strawberry types of 申办's follow-on flows: bundles, agency, tickets, post-checks, reports."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from app.ids import to_global_id
from applications import agency, bundles, postcheck, reporting, tickets
from applications.deadlines import SlaState, sla_state
from applications.types import Application

BundleStatus = strawberry.enum(
    bundles.BundleStatus,
    name="BundleStatus",
    description="一件事 aggregate status, derived from the member applications.",
)
TicketKind = strawberry.enum(
    tickets.TicketKind,
    name="TicketKind",
    description="RECTIFICATION (差评整改, from a 1–2 star rating), COMPLAINT (投诉), "
    "CANNOT_GET_DONE (办不成事) or SUGGESTION (意见建议).",
)
TicketStatus = strawberry.enum(
    tickets.TicketStatus, name="TicketStatus", description="OPEN → IN_PROGRESS → CLOSED."
)
PostCheckOutcome = strawberry.enum(
    postcheck.PostCheckOutcome,
    name="PostCheckOutcome",
    description="告知承诺 post-check: PASSED, or BROKEN (失信: the approval may be revoked).",
)
ExportFormat = strawberry.enum(
    reporting.ExportFormat, name="ExportFormat", description="CSV or JSON lines (JSONL)."
)
KpiPeriod = strawberry.enum(
    reporting.KpiPeriod, name="KpiPeriod", description="Granularity of per-period figures."
)


@strawberry.type(description="一件事: one submission creating several member applications.")
class BundleApplication:
    bundle: strawberry.Private[bundles.BundleApplication]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("BundleApplication", self.bundle.id))

    @strawberry.field(description="The bundle's catalogue code.")
    def bundle_code(self) -> str:
        return self.bundle.bundle_code

    @strawberry.field(description="The bundle's name, e.g. 开饭店一件事.")
    def bundle_name(self) -> str:
        return self.bundle.bundle_name

    @strawberry.field(description="Aggregate status of the members.")
    def status(self) -> bundles.BundleStatus:
        return self.bundle.status

    @strawberry.field(description="When it was submitted.")
    def created_at(self) -> datetime:
        return self.bundle.created_at

    @strawberry.field(description="The member applications, in the bundle's order.")
    def members(self) -> list[Application]:
        return [Application(app=m) for m in self.bundle.members]


@strawberry.type(description="帮办代办: a principal's authorisation of an agent.")
class AgencyGrant:
    grant: strawberry.Private[agency.AgencyGrant]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("AgencyGrant", self.grant.id))

    @strawberry.field(description="The principal's user id: pass as `onBehalfOf`.")
    def principal_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("User", self.grant.principal_id))

    @strawberry.field(description="The principal's name, masked.")
    def principal_name(self) -> str:
        return self.grant.principal_name

    @strawberry.field(description="The agent's phone, masked.")
    def agent_phone(self) -> str:
        return self.grant.agent_phone

    @strawberry.field(description="Matters it covers; empty: every matter.")
    def matter_codes(self) -> list[str]:
        return self.grant.matter_codes

    @strawberry.field(description="When it was granted.")
    def created_at(self) -> datetime:
        return self.grant.created_at

    @strawberry.field(description="Until when it is in force.")
    def expires_at(self) -> datetime:
        return self.grant.expires_at

    @strawberry.field(description="When the principal revoked it, if they did.")
    def revoked_at(self) -> datetime | None:
        return self.grant.revoked_at

    @strawberry.field(description="Neither revoked nor expired.")
    def active(self) -> bool:
        return self.grant.active(datetime.now(UTC))


@strawberry.type(description="One step of a ticket.")
class TicketEvent:
    at: datetime = strawberry.field(description="When.")
    action: str = strawberry.field(description="OPEN, START or CLOSE.")
    after: str | None = strawberry.field(description="Status after the step.")
    note: str | None = strawberry.field(description="Note or reply.")
    actor_role: str | None = strawberry.field(
        default=None, description="AGENT for a step an agent (帮办代办) took; else null."
    )
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None, description="For an agent's step: the principal it was taken for."
    )


@strawberry.type(description="A tracked ticket: 差评整改, 投诉, 办不成事 or 意见建议.")
class Ticket:
    ticket: strawberry.Private[tickets.Ticket]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Ticket", self.ticket.id))

    @strawberry.field(description="What kind of ticket.")
    def kind(self) -> tickets.TicketKind:
        return self.ticket.kind

    @strawberry.field(description="Where it stands.")
    def status(self) -> tickets.TicketStatus:
        return self.ticket.status

    @strawberry.field(description="The responsible department's code.")
    def department_code(self) -> str:
        return self.ticket.department_code

    @strawberry.field(description="The responsible department's name.")
    def department_name(self) -> str | None:
        return self.ticket.department_name

    @strawberry.field(description="The application it is about, if any.")
    def application_id(self) -> strawberry.ID | None:
        a = self.ticket.application_id
        return strawberry.ID(to_global_id("Application", a)) if a else None

    @strawberry.field(description="The matter it is about, if any.")
    def matter_code(self) -> str | None:
        return self.ticket.matter_code

    @strawberry.field(description="What the citizen reported (or the bad rating's comment).")
    def content(self) -> str:
        return self.ticket.content

    @strawberry.field(description="When it was opened.")
    def opened_at(self) -> datetime:
        return self.ticket.opened_at

    @strawberry.field(description="When it must be closed (working days).")
    def due_at(self) -> datetime:
        return self.ticket.due_at

    @strawberry.field(description="Deadline light: RED when overdue (or closed late).")
    def sla_state(self) -> SlaState:
        t = self.ticket
        return sla_state(
            t.opened_at, t.due_at, t.days, now=datetime.now(UTC), finished_at=t.closed_at
        )

    @strawberry.field(description="The department's reply, once closed.")
    def reply(self) -> str | None:
        return self.ticket.reply

    @strawberry.field(description="When it was closed.")
    def closed_at(self) -> datetime | None:
        return self.ticket.closed_at

    @strawberry.field(description="Every step, oldest first.")
    def history(self) -> list[TicketEvent]:
        return [
            TicketEvent(
                at=h["at"],
                action=h["action"],
                after=h.get("after"),
                note=h.get("note"),
                actor_role=h.get("actor_role"),
                on_behalf_of=(
                    strawberry.ID(to_global_id("User", h["on_behalf_of"]))
                    if h.get("on_behalf_of")
                    else None
                ),
            )
            for h in self.ticket.history
        ]

    @strawberry.field(
        description="帮办代办: the principal (user id) an agent filed it for — the reporter, "
        "whose ticket it is; null when the reporter filed it."
    )
    def on_behalf_of(self) -> strawberry.ID | None:
        t = self.ticket
        return strawberry.ID(to_global_id("User", t.reporter_id)) if t.agent_id else None


@strawberry.type(description="A GB/T 39734 好差评 export.")
class RatingExport:
    format: reporting.ExportFormat = strawberry.field(description="CSV or JSONL.")
    content: str = strawberry.field(description="The records (UTF-8 text, a header row in CSV).")
    rows: int = strawberry.field(description="Records in `content`.")
    truncated: bool = strawberry.field(
        description="True when more records matched than one export holds (narrow the range)."
    )


@strawberry.type(description="Processing figures for a matter, or for everything selected.")
class KpiFigures:
    matter_code: str | None = strawberry.field(description="The matter; null for the total.")
    matter_name: str | None = strawberry.field(description="Its name; null for the total.")
    department_code: str | None = strawberry.field(description="Its department.")
    submitted: int = strawberry.field(description="Applications submitted in the range.")
    instant_approvals: int = strawberry.field(description="秒批: approved within the request.")
    decided: int = strawberry.field(description="Approved, rejected or revoked.")
    on_time: int = strawberry.field(description="Decided by the committed time.")
    on_time_rate: float | None = strawberry.field(description="on_time / decided, 0..1.")
    average_handling_days: float | None = strawberry.field(
        description="Mean calendar days from submission to decision."
    )


@strawberry.type(description="A count for one period.")
class PeriodCount:
    period: str = strawberry.field(description="YYYY-MM-DD or YYYY-MM (China time).")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="申办 KPIs for a date range (by submission date, China time).")
class ApplicationKpis:
    total: KpiFigures = strawberry.field(description="All selected applications.")
    by_matter: list[KpiFigures] = strawberry.field(description="Per matter, by code.")
    instant_by_period: list[PeriodCount] = strawberry.field(
        description="秒批 approvals per day or month."
    )
