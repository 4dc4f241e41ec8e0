"""申办's GraphQL inputs and payloads, and the small helpers its resolvers share.

Kept apart from the resolvers (`applications/schema.py`, `applications/flow_schema.py`,
`applications/delivery_schema.py`) so that each module stays one concept.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import strawberry
from bson import ObjectId
from graphql import GraphQLError
from strawberry.file_uploads import Upload as UploadScalar

from app.api_types import JSON, UserError
from app.errors import AccessError, DomainError, InputErrors
from app.ids import object_id_from_global
from applications.delivery_types import ResultDeliveryInput
from applications.models import MaterialRef, Provision
from applications.types import Application

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
