"""The GraphQL inputs and payloads of 申办's follow-on flows (`applications/flow_schema.py`):
一件事, 帮办代办, tickets, 告知承诺 post-checks and the GB/T 39734 export."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry

from app.api_types import JSON, UserError
from applications import flow_types as ft
from applications import postcheck, reporting, tickets
from applications.delivery_types import ResultDeliveryInput
from applications.inputs import MaterialInput
from applications.types import Application


@strawberry.input(description="一件事: one merged form and one set of materials for a bundle.")
class SubmitBundleInput:
    bundle_code: str = strawberry.field(description="The bundle's code, e.g. YJS-RESTAURANT.")
    form: JSON = strawberry.field(description="The merged form: every member's fields once.")
    idempotency_key: str = strawberry.field(
        description="Client-chosen key (8–100 chars): resending it returns the same bundle."
    )
    materials: list[MaterialInput] = strawberry.field(
        default_factory=list, description="One set of materials, each once (by name)."
    )
    situation_by_matter: JSON | None = strawberry.field(
        default=None, description="办事情形 per member: {matterCode: situation}; default first."
    )
    deferral_commitment: bool = strawberry.field(
        default=False, description="容缺受理承诺书 signed (applies to every member)."
    )
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None,
        description="帮办代办: the principal's user id (one grant must cover every member).",
    )
    result_delivery: ResultDeliveryInput | None = strawberry.field(
        default=None,
        description="结果送达 for every member whose matter offers the method (the others get "
        "their default); null: each member its default. The address is stored sealed.",
    )


@strawberry.input(description="帮办代办: authorise an agent to apply on one's behalf.")
class GrantAgencyInput:
    agent_phone: str = strawberry.field(description="The agent's mobile number.")
    expires_at: datetime = strawberry.field(description="Until when (at most 366 days).")
    matter_codes: list[str] | None = strawberry.field(
        default=None, description="Matters covered; null or empty: every matter."
    )


@strawberry.input(description="Withdraw an agency authorisation.")
class RevokeAgencyInput:
    grant_id: strawberry.ID = strawberry.field(description="The grant.")


@strawberry.input(description="投诉, 办不成事 or a suggestion, about a case, matter or department.")
class SubmitFeedbackInput:
    kind: tickets.TicketKind = strawberry.field(description="COMPLAINT, CANNOT_GET_DONE, ...")
    content: str = strawberry.field(description="What happened (1–1000 characters).")
    idempotency_key: str = strawberry.field(description="Resending it returns the same ticket.")
    application_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The application it is about: one's own, or (帮办代办) one the viewer "
        "submitted as agent, under a grant in force (COMPLAINT or CANNOT_GET_DONE only).",
    )
    matter_code: str | None = strawberry.field(default=None, description="The matter concerned.")
    department_code: str | None = strawberry.field(
        default=None, description="The department concerned (when no case or matter)."
    )


@strawberry.input(description="Take a ticket (OPEN → IN_PROGRESS). Staff of its department.")
class StartTicketInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket.")
    note: str | None = strawberry.field(default=None, description="Optional note.")


@strawberry.input(description="Close a ticket with a reply. Supervisors of its department.")
class CloseTicketInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket.")
    reply: str = strawberry.field(description="The reply to the citizen (required).")


@strawberry.input(description="告知承诺 事后核查: record the post-check of an approval.")
class RecordPostCheckInput:
    application_id: strawberry.ID = strawberry.field(description="The approved application.")
    outcome: postcheck.PostCheckOutcome = strawberry.field(description="PASSED or BROKEN.")
    note: str | None = strawberry.field(
        default=None, description="What was found (required for BROKEN)."
    )


@strawberry.input(description="Export ratings in the GB/T 39734 record format.")
class ExportRatingsInput:
    from_: date = strawberry.field(name="from", description="First day (China time).")
    to: date = strawberry.field(description="Last day, inclusive (at most 366 days).")
    department_code: str | None = strawberry.field(
        default=None, description="Department; null: one's own (admins: all)."
    )
    format: reporting.ExportFormat = strawberry.field(
        default=reporting.ExportFormat.CSV, description="CSV or JSONL."
    )


# -- payloads -------------------------------------------------------------------------------


@strawberry.type(description="Result of submitBundle.")
class SubmitBundlePayload:
    bundle: ft.BundleApplication | None = strawberry.field(
        default=None, description="The bundle with its member applications."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Expected failures."
    )


def _grant_payload(name: str, verb: str) -> Any:
    @strawberry.type(name=name, description=f"Result of {verb}.")
    class Payload:
        grant: ft.AgencyGrant | None = strawberry.field(default=None, description="The grant.")
        user_errors: list[UserError] = strawberry.field(
            default_factory=list, description="Expected failures."
        )

    return Payload


def _ticket_payload(name: str, verb: str) -> Any:
    @strawberry.type(name=name, description=f"Result of {verb}.")
    class Payload:
        ticket: ft.Ticket | None = strawberry.field(default=None, description="The ticket.")
        user_errors: list[UserError] = strawberry.field(
            default_factory=list, description="Expected failures."
        )

    return Payload


GrantAgencyPayload: Any = _grant_payload("GrantAgencyPayload", "grantAgency")
RevokeAgencyPayload: Any = _grant_payload("RevokeAgencyPayload", "revokeAgency")
SubmitFeedbackPayload: Any = _ticket_payload("SubmitFeedbackPayload", "submitFeedback")
StartTicketPayload: Any = _ticket_payload("StartTicketPayload", "startTicket")
CloseTicketPayload: Any = _ticket_payload("CloseTicketPayload", "closeTicket")


@strawberry.type(description="Result of recordPostCheck.")
class RecordPostCheckPayload:
    application: Application | None = strawberry.field(
        default=None, description="The application with its post-check."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Expected failures."
    )


@strawberry.type(description="Result of exportRatings.")
class ExportRatingsPayload:
    export: ft.RatingExport | None = strawberry.field(default=None, description="The export.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Expected failures."
    )


Date = Annotated[date, strawberry.argument(name="from", description="First day (China time).")]
