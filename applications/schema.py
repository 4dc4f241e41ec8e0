"""Queries and mutations of 申办: thin calls into `ApplicationService`."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import pymongo
import strawberry
from bson import ObjectId
from graphql import GraphQLError
from strawberry.file_uploads import Upload as UploadScalar
from strawberry.types import Info

from app.api_types import JSON, UserError, run_mutation
from app.context import Context
from app.errors import AccessError, DomainError, InputErrors
from app.ids import object_id_from_global
from app.pagination import Connection, Edge
from applications.delivery_types import ResultDeliveryInput, delivery_raw
from applications.models import MaterialRef, Provision
from applications.service import Submission
from applications.types import Application, RatingStats
from applications.uploads.inline import InlineUploads, given_materials
from applications.workflow import Status

T = TypeVar("T")


async def _typed(call: Awaitable[T]) -> T:
    """Queries have no payload: expected failures become typed top-level errors."""
    try:
        return await call
    except AccessError:
        raise
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc


def _app_id(value: strawberry.ID) -> ObjectId:
    return object_id_from_global(str(value), "Application", field="applicationId")


def _draft_id(value: strawberry.ID | None) -> ObjectId | None:
    if value is None:
        return None
    return object_id_from_global(str(value), "Application", field="draftId")


@strawberry.input(description="One material of a submission.")
class MaterialInput:
    name: str = strawberry.field(description="Material name, exactly as in the guide.")
    provision: Provision = strawberry.field(description="UPLOAD, LICENCE or COMMITMENT.")
    reference: str | None = strawberry.field(
        default=None, description="Upload id or licence id; null for a commitment."
    )
    file: UploadScalar | None = strawberry.field(
        default=None,
        description="submitApplication only: the file itself instead of a `reference` (a "
        "multipart request; checked like uploadMaterial, kept in the vault with the "
        "application; at most 10 files, one upload's size in all).",
    )


def references(inputs: list[MaterialInput]) -> list[MaterialRef]:
    """Materials given by reference only (every mutation but submitApplication)."""
    errors = [
        DomainError(
            "请先上传到材料库，再引用 (upload with uploadMaterial, then give its id)",
            code="FILE_NOT_ACCEPTED",
            field=f"materials[{i}].file",
        )
        for i, m in enumerate(inputs)
        if m.file is not None
    ]
    if errors:
        raise InputErrors(errors)
    return [MaterialRef(m.name, m.provision, m.reference) for m in inputs]


@strawberry.input(description="Submit an application for a matter.")
class SubmitApplicationInput:
    matter_code: str = strawberry.field(description="事项编码.")
    form: JSON = strawberry.field(description="Form data matching `matter.form.schema`.")
    idempotency_key: str = strawberry.field(
        description="Client-chosen key (8–100 chars): resending it returns the same application."
    )
    situation: str | None = strawberry.field(
        default=None, description="办事情形 code or name; null: the first situation."
    )
    materials: list[MaterialInput] = strawberry.field(
        default_factory=list, description="Materials provided."
    )
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None, description="帮办代办: the principal's user id (needs an authorisation)."
    )
    deferral_commitment: bool = strawberry.field(
        default=False, description="容缺受理承诺书 signed: deferrable materials may follow later."
    )
    draft_id: strawberry.ID | None = strawberry.field(
        default=None, description="Submit this saved draft (it becomes the application)."
    )
    result_delivery: ResultDeliveryInput | None = strawberry.field(
        default=None,
        description="结果送达: ELECTRONIC, POST (with address) or PICKUP among the matter's "
        "`resultDeliveryMethods`; null: the first that needs no address (or the draft's).",
    )


@strawberry.input(description="Accept a submitted application (受理).")
class AcceptApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")


@strawberry.input(description="Return an application for correction, every deficiency at once.")
class ReturnApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    deficiencies: list[str] = strawberry.field(description="一次性告知: all deficiencies.")


@strawberry.input(description="Approve an accepted application.")
class ApproveApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    note: str | None = strawberry.field(default=None, description="审批意见.")


@strawberry.input(description="Reject an accepted application (不予许可).")
class RejectApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    reason: str = strawberry.field(description="Reason, required and shown to the applicant.")


@strawberry.input(description="Hand an application to another department (转办).")
class TransferApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    department_code: str = strawberry.field(description="The receiving department's code.")
    reason: str | None = strawberry.field(default=None, description="Why it is transferred.")


@strawberry.input(description="Withdraw one's own application before a decision.")
class WithdrawApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    reason: str | None = strawberry.field(default=None, description="Optional reason.")


@strawberry.input(description="容缺: hand in deferred materials.")
class SupplementMaterialsInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    materials: list[MaterialInput] = strawberry.field(description="The deferred materials.")


@strawberry.input(
    description="好差评: rate a finished application once (1 非常不满意 … 5 非常满意)."
)
class RateApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    score: int = strawberry.field(description="1 to 5.")
    comment: str | None = strawberry.field(default=None, description="Optional comment.")


@strawberry.input(description="你失信、我撤销: revoke an approval.")
class RevokeApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    reason: str = strawberry.field(description="Why it is revoked (required).")


@strawberry.input(description="一次补正: resubmit a returned application with its corrections.")
class ResubmitApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The returned application.")
    form: JSON = strawberry.field(description="The corrected form data.")
    materials: list[MaterialInput] = strawberry.field(
        default_factory=list, description="The corrected materials (the whole set)."
    )
    deferral_commitment: bool = strawberry.field(
        default=False, description="容缺受理承诺书 signed."
    )


@strawberry.input(description="Save what is typed so far, to resume later (on any device).")
class SaveApplicationDraftInput:
    matter_code: str = strawberry.field(description="事项编码 (ignored when updating a draft).")
    form: JSON = strawberry.field(description="Form data so far (may be incomplete).")
    situation: str | None = strawberry.field(default=None, description="办事情形 code or name.")
    application_id: strawberry.ID | None = strawberry.field(
        default=None, description="The draft to update; null creates a new draft."
    )
    result_delivery: ResultDeliveryInput | None = strawberry.field(
        default=None, description="结果送达 so far (kept sealed; checked at submission)."
    )


def _payload(name: str, verb: str) -> type:
    """`<Mutation>Payload`: the application (null on failure) and `userErrors`."""

    @strawberry.type(name=name, description=f"Result of {verb}.")
    class Payload:
        application: Application | None = strawberry.field(
            default=None, description="The application after the change."
        )
        user_errors: list[UserError] = strawberry.field(
            default_factory=list, description="Expected failures."
        )

    return Payload


SubmitApplicationPayload: Any = _payload("SubmitApplicationPayload", "submitApplication")
AcceptApplicationPayload: Any = _payload("AcceptApplicationPayload", "acceptApplication")
ReturnApplicationPayload: Any = _payload("ReturnApplicationPayload", "returnApplication")
ApproveApplicationPayload: Any = _payload("ApproveApplicationPayload", "approveApplication")
RejectApplicationPayload: Any = _payload("RejectApplicationPayload", "rejectApplication")
TransferApplicationPayload: Any = _payload("TransferApplicationPayload", "transferApplication")
WithdrawApplicationPayload: Any = _payload("WithdrawApplicationPayload", "withdrawApplication")
SupplementMaterialsPayload: Any = _payload("SupplementMaterialsPayload", "supplementMaterials")
RateApplicationPayload: Any = _payload("RateApplicationPayload", "rateApplication")
RevokeApplicationPayload: Any = _payload("RevokeApplicationPayload", "revokeApplication")
SaveApplicationDraftPayload: Any = _payload("SaveApplicationDraftPayload", "saveApplicationDraft")
ResubmitApplicationPayload: Any = _payload("ResubmitApplicationPayload", "resubmitApplication")


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
