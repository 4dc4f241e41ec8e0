"""Queries and mutations of 申办: thin calls into `ApplicationService`."""

from __future__ import annotations

from typing import Any, cast

import pymongo
import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.api_types import JSON, run_mutation
from app.context import Context
from app.errors import DomainError, InputErrors
from app.pagination import Connection, Edge
from applications.delivery_types import delivery_raw
from applications.inputs import (
    AcceptApplicationInput,
    AcceptApplicationPayload,
    ApproveApplicationInput,
    ApproveApplicationPayload,
    RateApplicationInput,
    RateApplicationPayload,
    RejectApplicationInput,
    RejectApplicationPayload,
    ResubmitApplicationInput,
    ResubmitApplicationPayload,
    ReturnApplicationInput,
    ReturnApplicationPayload,
    RevokeApplicationInput,
    RevokeApplicationPayload,
    SaveApplicationDraftInput,
    SaveApplicationDraftPayload,
    SubmitApplicationInput,
    SubmitApplicationPayload,
    SupplementMaterialsInput,
    SupplementMaterialsPayload,
    TransferApplicationInput,
    TransferApplicationPayload,
    WithdrawApplicationInput,
    WithdrawApplicationPayload,
    _app_id,
    _draft_id,
    _typed,
    references,
)
from applications.models import MaterialRef
from applications.service import Submission
from applications.types import Application, RatingStats
from applications.uploads.inline import InlineUploads, given_materials
from applications.workflow import Status


@strawberry.type
class Query:
    @strawberry.field(description="An application the viewer may see (own, or a clerk's case).")
    async def application(self, info: Info[Context, None], id: strawberry.ID) -> Application | None:
        viewer = info.context.require_viewer()
        try:
            app_id = _app_id(id)
        except DomainError as exc:
            raise GraphQLError(exc.message, extensions={"code": exc.code, "field": "id"}) from exc
        found = await info.context.applications.get(viewer, app_id)
        return Application(app=found) if found else None

    @strawberry.field(description="The viewer's applications, newest first.")
    async def my_applications(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        status: Status | None = None,
    ) -> Connection[Application]:
        viewer = info.context.require_viewer()
        page = await _typed(info.context.applications.mine(viewer, status, first, after))
        return Connection(
            edges=[Edge(node=Application(app=e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )

    @strawberry.field(
        description="Clerks: open cases of departments they may process, earliest deadline first."
    )
    async def application_queue(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Application]:
        viewer = info.context.require_viewer()
        page = await _typed(info.context.applications.queue(viewer, first, after))
        return Connection(
            edges=[Edge(node=Application(app=e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )

    @strawberry.field(description="好差评 figures of a matter or a department (public).")
    async def rating_stats(
        self,
        info: Info[Context, None],
        matter_code: str | None = None,
        department_code: str | None = None,
    ) -> RatingStats:
        stats = await _typed(info.context.applications.rating_stats(matter_code, department_code))
        return RatingStats(**stats)

    @strawberry.field(description="智能辅助填单: form data pre-filled from the viewer's identity.")
    async def application_prefill(self, info: Info[Context, None], matter_code: str) -> JSON:
        viewer = info.context.require_viewer()
        data = await _typed(info.context.applications.prefill(viewer, matter_code))
        # Personal data: never kept by a browser, proxy or CDN cache.
        if info.context.response is not None:
            info.context.response.headers["Cache-Control"] = "no-store"
        return cast(JSON, data)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Submit an application; 秒批 matters may be approved at once.")
    async def submit_application(
        self, info: Info[Context, None], input: SubmitApplicationInput
    ) -> SubmitApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            info.context.take_budget("submitApplication")
            inline: InlineUploads | None = None
            file_errors: tuple[DomainError, ...] = ()
            try:
                given, inline = await given_materials(info.context.uploads, viewer, input.materials)
            except InputErrors as exc:  # answered after the key: a retry still gets its case
                given = [MaterialRef(m.name, m.provision, m.reference) for m in input.materials]
                file_errors = tuple(exc.errors)
            sub = Submission(
                matter_code=input.matter_code,
                situation=input.situation,
                form=input.form,
                materials=given,
                idempotency_key=input.idempotency_key,
                on_behalf_of=str(input.on_behalf_of) if input.on_behalf_of else None,
                deferral_commitment=input.deferral_commitment,
                draft_id=_draft_id(input.draft_id),
                result_delivery=delivery_raw(input.result_delivery),
                inline=inline,
                file_errors=file_errors,
            )
            # A multipart request (files) starts its database deadline here, once it is in.
            with pymongo.timeout(info.context.settings.db_request_timeout_seconds):
                app = await info.context.applications.submit(viewer, sub)
            return SubmitApplicationPayload(application=Application(app=app))

        return await run_mutation(SubmitApplicationPayload, act)

    @strawberry.mutation(description="受理 a submitted application. Clerks of its department.")
    async def accept_application(
        self, info: Info[Context, None], input: AcceptApplicationInput
    ) -> AcceptApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.accept(viewer, _app_id(input.application_id))
            return AcceptApplicationPayload(application=Application(app=app))

        return await run_mutation(AcceptApplicationPayload, act)

    @strawberry.mutation(description="退回补正 with every deficiency at once. Clerks.")
    async def return_application(
        self, info: Info[Context, None], input: ReturnApplicationInput
    ) -> ReturnApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.return_(
                viewer, _app_id(input.application_id), input.deficiencies
            )
            return ReturnApplicationPayload(application=Application(app=app))

        return await run_mutation(ReturnApplicationPayload, act)

    @strawberry.mutation(description="Approve an accepted application. Clerks.")
    async def approve_application(
        self, info: Info[Context, None], input: ApproveApplicationInput
    ) -> ApproveApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.approve(
                viewer, _app_id(input.application_id), input.note
            )
            return ApproveApplicationPayload(application=Application(app=app))

        return await run_mutation(ApproveApplicationPayload, act)

    @strawberry.mutation(description="Reject an accepted application with a reason. Clerks.")
    async def reject_application(
        self, info: Info[Context, None], input: RejectApplicationInput
    ) -> RejectApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.reject(
                viewer, _app_id(input.application_id), input.reason
            )
            return RejectApplicationPayload(application=Application(app=app))

        return await run_mutation(RejectApplicationPayload, act)

    @strawberry.mutation(description="Transfer an open application to another department. Clerks.")
    async def transfer_application(
        self, info: Info[Context, None], input: TransferApplicationInput
    ) -> TransferApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.transfer(
                viewer, _app_id(input.application_id), input.department_code, input.reason
            )
            return TransferApplicationPayload(application=Application(app=app))

        return await run_mutation(TransferApplicationPayload, act)

    @strawberry.mutation(
        description="Withdraw one's own application before a decision (or, as the agent who "
        "submitted it, under a grant in force)."
    )
    async def withdraw_application(
        self, info: Info[Context, None], input: WithdrawApplicationInput
    ) -> WithdrawApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.withdraw(
                viewer, _app_id(input.application_id), input.reason
            )
            return WithdrawApplicationPayload(application=Application(app=app))

        return await run_mutation(WithdrawApplicationPayload, act)

    @strawberry.mutation(
        description="容缺: hand in deferred materials (the applicant, or the agent who submitted "
        "it under a grant in force)."
    )
    async def supplement_materials(
        self, info: Info[Context, None], input: SupplementMaterialsInput
    ) -> SupplementMaterialsPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            given = references(input.materials)
            app = await info.context.applications.supplement(
                viewer, _app_id(input.application_id), given
            )
            return SupplementMaterialsPayload(application=Application(app=app))

        return await run_mutation(SupplementMaterialsPayload, act)

    @strawberry.mutation(
        description="好差评: rate one's finished application once (the applicant only: an agent "
        "gets AGENT_CANNOT_RATE)."
    )
    async def rate_application(
        self, info: Info[Context, None], input: RateApplicationInput
    ) -> RateApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.rate(
                viewer, _app_id(input.application_id), input.score, input.comment
            )
            return RateApplicationPayload(application=Application(app=app))

        return await run_mutation(RateApplicationPayload, act)

    @strawberry.mutation(description="Revoke an approval (broken commitment). Clerks.")
    async def revoke_application(
        self, info: Info[Context, None], input: RevokeApplicationInput
    ) -> RevokeApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await info.context.applications.revoke(
                viewer, _app_id(input.application_id), input.reason
            )
            return RevokeApplicationPayload(application=Application(app=app))

        return await run_mutation(RevokeApplicationPayload, act)

    @strawberry.mutation(
        description="一次补正: resubmit a returned application (once; the applicant, or the agent "
        "who submitted it under a grant in force)."
    )
    async def resubmit_application(
        self, info: Info[Context, None], input: ResubmitApplicationInput
    ) -> ResubmitApplicationPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            given = references(input.materials)
            app = await info.context.applications.resubmit(
                viewer,
                _app_id(input.application_id),
                input.form,
                given,
                input.deferral_commitment,
            )
            return ResubmitApplicationPayload(application=Application(app=app))

        return await run_mutation(ResubmitApplicationPayload, act)

    @strawberry.mutation(description="Save a draft application (server-side, any device).")
    async def save_application_draft(
        self, info: Info[Context, None], input: SaveApplicationDraftInput
    ) -> SaveApplicationDraftPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            draft_id = _app_id(input.application_id) if input.application_id is not None else None
            app = await info.context.applications.save_draft(
                viewer,
                input.matter_code,
                input.situation,
                input.form,
                draft_id,
                delivery_raw(input.result_delivery),
            )
            return SaveApplicationDraftPayload(application=Application(app=app))

        return await run_mutation(SaveApplicationDraftPayload, act)
