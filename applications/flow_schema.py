"""Queries and mutations of 申办's follow-on flows (thin: each calls one desk of the service).

一件事 `submitBundle`; 帮办代办 `grantAgency`/`revokeAgency`; tickets `submitFeedback`,
`startTicket`, `closeTicket`; 告知承诺 `recordPostCheck`; the GB/T 39734 `exportRatings`; and
their reads. Merged into the API by `app/schema.py` beside `applications.schema`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from bson import ObjectId
from graphql import GraphQLError
from strawberry.types import Info

from app.api_types import run_mutation
from app.context import Context
from app.errors import DomainError
from app.ids import object_id_from_global
from app.pagination import Connection, Edge
from applications import flow_types as ft
from applications import reporting, tickets
from applications.agency import AgencyDesk
from applications.bundles import BundleDesk
from applications.delivery_types import delivery_raw
from applications.feedback import FeedbackDesk
from applications.flow_inputs import (
    CloseTicketInput,
    CloseTicketPayload,
    Date,
    ExportRatingsInput,
    ExportRatingsPayload,
    GrantAgencyInput,
    GrantAgencyPayload,
    RecordPostCheckInput,
    RecordPostCheckPayload,
    RevokeAgencyInput,
    RevokeAgencyPayload,
    StartTicketInput,
    StartTicketPayload,
    SubmitBundleInput,
    SubmitBundlePayload,
    SubmitFeedbackInput,
    SubmitFeedbackPayload,
)
from applications.inputs import _typed, references
from applications.postcheck import PostCheckDesk
from applications.reporting import Reporting
from applications.types import Application


def _oid(value: strawberry.ID, kind: str, field: str) -> ObjectId:
    return object_id_from_global(str(value), kind, field=field)


def _query_oid(value: strawberry.ID, kind: str) -> ObjectId:
    try:
        return _oid(value, kind, "id")
    except DomainError as exc:
        raise GraphQLError("无效的ID (invalid id)", extensions={"code": "INVALID_ID"}) from exc


def _map(page: Connection[Any], wrap: Any) -> Connection[Any]:
    return Connection(
        edges=[Edge(node=wrap(e.node), cursor=e.cursor) for e in page.edges],
        page_info=page.page_info,
    )


# -- inputs ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(
        description="一件事: one of the viewer's bundle submissions (or, for the agent who "
        "submitted it, while a grant covers it)."
    )
    async def bundle_application(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> ft.BundleApplication | None:
        viewer = info.context.require_viewer()
        found = await BundleDesk(info.context.applications).get(
            viewer, _query_oid(id, "BundleApplication")
        )
        return ft.BundleApplication(bundle=found) if found else None

    @strawberry.field(description="一件事: the viewer's bundle submissions, newest first.")
    async def my_bundles(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ft.BundleApplication]:
        viewer = info.context.require_viewer()
        desk = BundleDesk(info.context.applications)
        page = await _typed(desk.mine(viewer, first, after))
        views = await desk.views([e.node for e in page.edges])
        return Connection(
            edges=[
                Edge(node=ft.BundleApplication(bundle=v), cursor=e.cursor)
                for v, e in zip(views, page.edges, strict=True)
            ],
            page_info=page.page_info,
        )

    @strawberry.field(description="帮办代办: authorisations the viewer has given, newest first.")
    async def my_agency_grants(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ft.AgencyGrant]:
        viewer = info.context.require_viewer()
        page = await _typed(AgencyDesk(info.context.applications).given(viewer, first, after))
        return _map(page, lambda g: ft.AgencyGrant(grant=g))

    @strawberry.field(description="帮办代办: authorisations in force naming the viewer as agent.")
    async def agency_grants_to_me(self, info: Info[Context, None]) -> list[ft.AgencyGrant]:
        viewer = info.context.require_viewer()
        grants = await AgencyDesk(info.context.applications).received(viewer)
        return [ft.AgencyGrant(grant=g) for g in grants]

    @strawberry.field(description="帮办代办: applications the viewer submitted as an agent.")
    async def my_agent_applications(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Application]:
        viewer = info.context.require_viewer()
        page = await _typed(AgencyDesk(info.context.applications).submitted(viewer, first, after))
        return _map(page, lambda a: Application(app=a))

    @strawberry.field(description="The viewer's complaints, reports and suggestions, newest first.")
    async def my_feedback(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ft.Ticket]:
        viewer = info.context.require_viewer()
        page = await _typed(FeedbackDesk(info.context.applications).mine(viewer, first, after))
        return _map(page, lambda t: ft.Ticket(ticket=t))

    @strawberry.field(
        description="帮办代办: complaints and 办不成事 reports the viewer filed as an agent, about "
        "cases a grant in force still covers, newest first."
    )
    async def my_agent_feedback(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[ft.Ticket]:
        viewer = info.context.require_viewer()
        desk = FeedbackDesk(info.context.applications)
        page = await _typed(desk.filed_as_agent(viewer, first, after))
        return _map(page, lambda t: ft.Ticket(ticket=t))

    @strawberry.field(description="A ticket the viewer reported or may handle.")
    async def ticket(self, info: Info[Context, None], id: strawberry.ID) -> ft.Ticket | None:
        viewer = info.context.require_viewer()
        found = await FeedbackDesk(info.context.applications).get(viewer, _query_oid(id, "Ticket"))
        return ft.Ticket(ticket=found) if found else None

    @strawberry.field(
        description="Staff: tickets of departments they may handle, earliest deadline first "
        "(open ones unless `status` is given; `overdueOnly`: past their deadline)."
    )
    async def ticket_queue(
        self,
        info: Info[Context, None],
        kind: tickets.TicketKind | None = None,
        status: tickets.TicketStatus | None = None,
        overdue_only: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ft.Ticket]:
        viewer = info.context.require_viewer()
        desk = FeedbackDesk(info.context.applications)
        page = await _typed(desk.queue(viewer, kind, status, overdue_only, first, after))
        return _map(page, lambda t: ft.Ticket(ticket=t))

    @strawberry.field(description="Clerks: approvals on 告知承诺 awaiting their post-check.")
    async def post_check_queue(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Application]:
        viewer = info.context.require_viewer()
        page = await _typed(PostCheckDesk(info.context.applications).queue(viewer, first, after))
        return _map(page, lambda a: Application(app=a))

    @strawberry.field(
        description="KPIs (秒批 per period, on-time rate, average handling days) per matter. "
        "Admins; clerks and supervisors for their departments."
    )
    async def application_kpis(
        self,
        info: Info[Context, None],
        from_: Date,
        to: date,
        department_code: str | None = None,
        period: reporting.KpiPeriod = reporting.KpiPeriod.DAY,
    ) -> ft.ApplicationKpis:
        viewer = info.context.require_viewer()
        data = await _typed(
            Reporting(info.context.applications).kpis(viewer, from_, to, department_code, period)
        )
        return ft.ApplicationKpis(
            total=ft.KpiFigures(**data["total"]),
            by_matter=[ft.KpiFigures(**row) for row in data["by_matter"]],
            instant_by_period=[
                ft.PeriodCount(period=p, count=n) for p, n in data["instant_by_period"]
            ],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="一件事: submit a bundle; every member application at once.")
    async def submit_bundle(
        self, info: Info[Context, None], input: SubmitBundleInput
    ) -> SubmitBundlePayload:
        viewer = info.context.require_viewer()

        async def act() -> SubmitBundlePayload:
            found = await BundleDesk(info.context.applications).submit(
                viewer,
                input.bundle_code,
                input.situation_by_matter,
                input.form,
                references(input.materials),
                input.idempotency_key,
                input.deferral_commitment,
                str(input.on_behalf_of) if input.on_behalf_of else None,
                delivery_raw(input.result_delivery),
            )
            return SubmitBundlePayload(bundle=ft.BundleApplication(bundle=found))

        return await run_mutation(SubmitBundlePayload, act)

    @strawberry.mutation(description="帮办代办: authorise an agent (the principal).")
    async def grant_agency(
        self, info: Info[Context, None], input: GrantAgencyInput
    ) -> GrantAgencyPayload:
        viewer = info.context.require_viewer()

        async def act() -> GrantAgencyPayload:
            grant = await AgencyDesk(info.context.applications).grant(
                viewer, input.agent_phone, input.matter_codes, input.expires_at
            )
            return GrantAgencyPayload(grant=ft.AgencyGrant(grant=grant))

        return await run_mutation(GrantAgencyPayload, act)

    @strawberry.mutation(description="帮办代办: revoke one's authorisation of an agent.")
    async def revoke_agency(
        self, info: Info[Context, None], input: RevokeAgencyInput
    ) -> RevokeAgencyPayload:
        viewer = info.context.require_viewer()

        async def act() -> RevokeAgencyPayload:
            grant = await AgencyDesk(info.context.applications).revoke(
                viewer, _oid(input.grant_id, "AgencyGrant", "grantId")
            )
            return RevokeAgencyPayload(grant=ft.AgencyGrant(grant=grant))

        return await run_mutation(RevokeAgencyPayload, act)

    @strawberry.mutation(
        description="投诉 / 办不成事 / 建议: open a tracked ticket (an agent may file 投诉 or "
        "办不成事 about a case they submitted for their principal)."
    )
    async def submit_feedback(
        self, info: Info[Context, None], input: SubmitFeedbackInput
    ) -> SubmitFeedbackPayload:
        viewer = info.context.require_viewer()

        async def act() -> SubmitFeedbackPayload:
            app_id = (
                _oid(input.application_id, "Application", "applicationId")
                if input.application_id is not None
                else None
            )
            ticket = await FeedbackDesk(info.context.applications).submit(
                viewer,
                input.kind,
                input.content,
                input.idempotency_key,
                app_id,
                input.matter_code,
                input.department_code,
            )
            return SubmitFeedbackPayload(ticket=ft.Ticket(ticket=ticket))

        return await run_mutation(SubmitFeedbackPayload, act)

    @strawberry.mutation(description="Take a ticket into work. Staff of its department.")
    async def start_ticket(
        self, info: Info[Context, None], input: StartTicketInput
    ) -> StartTicketPayload:
        viewer = info.context.require_viewer()

        async def act() -> StartTicketPayload:
            ticket = await FeedbackDesk(info.context.applications).start(
                viewer, _oid(input.ticket_id, "Ticket", "ticketId"), input.note
            )
            return StartTicketPayload(ticket=ft.Ticket(ticket=ticket))

        return await run_mutation(StartTicketPayload, act)

    @strawberry.mutation(description="Close a ticket with a reply (notifies the citizen). 督查.")
    async def close_ticket(
        self, info: Info[Context, None], input: CloseTicketInput
    ) -> CloseTicketPayload:
        viewer = info.context.require_viewer()

        async def act() -> CloseTicketPayload:
            ticket = await FeedbackDesk(info.context.applications).close(
                viewer, _oid(input.ticket_id, "Ticket", "ticketId"), input.reply
            )
            return CloseTicketPayload(ticket=ft.Ticket(ticket=ticket))

        return await run_mutation(CloseTicketPayload, act)

    @strawberry.mutation(description="告知承诺: record a post-check (clerks of the department).")
    async def record_post_check(
        self, info: Info[Context, None], input: RecordPostCheckInput
    ) -> RecordPostCheckPayload:
        viewer = info.context.require_viewer()

        async def act() -> RecordPostCheckPayload:
            app = await PostCheckDesk(info.context.applications).record(
                viewer,
                _oid(input.application_id, "Application", "applicationId"),
                input.outcome,
                input.note,
            )
            return RecordPostCheckPayload(application=Application(app=app))

        return await run_mutation(RecordPostCheckPayload, act)

    @strawberry.mutation(
        description="GB/T 39734 export of ratings (admins; supervisors: their departments). "
        "Audited."
    )
    async def export_ratings(
        self, info: Info[Context, None], input: ExportRatingsInput
    ) -> ExportRatingsPayload:
        viewer = info.context.require_viewer()

        async def act() -> ExportRatingsPayload:
            result = await Reporting(info.context.applications).export_ratings(
                viewer, input.from_, input.to, input.department_code, input.format
            )
            return ExportRatingsPayload(
                export=ft.RatingExport(
                    format=result.format,
                    content=result.content,
                    rows=result.rows,
                    truncated=result.truncated,
                )
            )

        return await run_mutation(ExportRatingsPayload, act)
