"""GraphQL inputs, payloads, queries and mutations of the licence wallet: thin calls into the
service. The object types they return are in `api_objects.py`."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.api_types import UserError, run_mutation
from app.context import Context
from app.ids import to_global_id
from app.pagination import Connection, Edge
from electronic_cards import models, registry
from electronic_cards.api_objects import (
    GrantedLicence,
    Licence,
    LicenceCorrectionTicket,
    LicenceDelegation,
    LicenceGrant,
    LicenceQr,
    LicenceType,
    LicenceUsageRecord,
    VerifiedLicence,
    licence_view,
)
from electronic_cards.models import Verification

# -- inputs and payloads -----------------------------------------------------------------


@strawberry.input(description="Mint a 亮证 QR token for a licence.")
class CreateLicenceQrInput:
    licence_id: strawberry.ID = strawberry.field(description="The licence to show.")
    mode: models.QrMode = strawberry.field(
        default=models.QrMode.ONLINE, description="ONLINE (default) or OFFLINE."
    )


@strawberry.type(description="Result of createLicenceQr.")
class CreateLicenceQrPayload:
    qr: LicenceQr | None = strawberry.field(default=None, description="The code to show.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="NOT_FOUND, LICENCE_SUSPENDED / LICENCE_REVOKED / LICENCE_EXPIRED, "
        "ASSURANCE_REQUIRED, RATE_LIMITED.",
    )


@strawberry.input(description="Check a scanned 亮证 code (verifier accounts).")
class VerifyLicenceQrInput:
    text: str = strawberry.field(description="The scanned text (SDL1:...).")
    scene: str = strawberry.field(description="The scene checked for, e.g. TRAFFIC_CHECK.")


@strawberry.type(description="Result of verifyLicenceQr.")
class VerifyLicenceQrPayload:
    result: models.VerificationResult | None = strawberry.field(
        default=None, description="The outcome (spec §6 result code)."
    )
    licence: VerifiedLicence | None = strawberry.field(
        default=None, description="The scene's view of the licence, when VALID."
    )
    checked_at: datetime | None = strawberry.field(default=None, description="Server time.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="INVALID_INPUT for a malformed scene or oversized text."
    )

    @classmethod
    def of(cls, outcome: Verification) -> VerifyLicenceQrPayload:
        licence = None
        if outcome.result is models.VerificationResult.VALID and outcome.type_code:
            licence = VerifiedLicence.of(outcome.type_code, outcome.fields)
        return cls(result=outcome.result, licence=licence, checked_at=outcome.checked_at)


@strawberry.input(description="Let an organisation fetch the full licence data for a purpose.")
class GrantLicenceUseInput:
    licence_id: strawberry.ID = strawberry.field(description="The licence.")
    organization_code: str = strawberry.field(description="The organisation's code.")
    purpose: str = strawberry.field(description="What for (1–100 characters).")
    expires_at: datetime = strawberry.field(description="Until when (at most 90 days).")


@strawberry.type(description="Result of grantLicenceUse.")
class GrantLicenceUsePayload:
    grant: LicenceGrant | None = strawberry.field(default=None, description="The grant.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND or INVALID_INPUT."
    )


@strawberry.input(description="Withdraw a grant.")
class RevokeLicenceGrantInput:
    grant_id: strawberry.ID = strawberry.field(description="The grant to revoke.")


@strawberry.type(description="Result of revokeLicenceGrant.")
class RevokeLicenceGrantPayload:
    grant: LicenceGrant | None = strawberry.field(default=None, description="The revoked grant.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND or INVALID_TRANSITION."
    )


@strawberry.input(description="Let another registered person show the licence for the holder.")
class DelegateLicenceInput:
    licence_id: strawberry.ID = strawberry.field(description="The licence.")
    delegate_phone: str = strawberry.field(description="The delegate's mobile number.")
    purpose: str = strawberry.field(description="The errand (1–100 characters).")
    expires_at: datetime = strawberry.field(description="Until when (at most 30 days).")


@strawberry.type(description="Result of delegateLicence.")
class DelegateLicencePayload:
    delegation: LicenceDelegation | None = strawberry.field(
        default=None, description="The delegation."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND, INVALID_DELEGATE, INVALID_INPUT."
    )


@strawberry.input(description="Withdraw a delegation.")
class RevokeLicenceDelegationInput:
    delegation_id: strawberry.ID = strawberry.field(description="The delegation to revoke.")


@strawberry.type(description="Result of revokeLicenceDelegation.")
class RevokeLicenceDelegationPayload:
    delegation: LicenceDelegation | None = strawberry.field(
        default=None, description="The revoked delegation."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND or INVALID_TRANSITION."
    )


@strawberry.input(description="Change a licence's status (issuing authority or admin).")
class LicenceStatusInput:
    licence_id: strawberry.ID = strawberry.field(description="The licence.")
    reason: str = strawberry.field(description="Why (1–200 characters), kept in its history.")


@strawberry.input(description="Revoke (注销) a licence: final.")
class RevokeLicenceInput(LicenceStatusInput):
    pass


@strawberry.input(description="Suspend a licence until it is reinstated.")
class SuspendLicenceInput(LicenceStatusInput):
    pass


@strawberry.input(description="Reinstate a suspended licence.")
class ReinstateLicenceInput(LicenceStatusInput):
    pass


@strawberry.type(description="A licence after a status change.")
class LicenceStatusPayload:
    licence: Licence | None = strawberry.field(default=None, description="The licence after.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND, INVALID_TRANSITION, INVALID_INPUT."
    )


@strawberry.type(description="Result of revokeLicence.")
class RevokeLicencePayload(LicenceStatusPayload):
    pass


@strawberry.type(description="Result of suspendLicence.")
class SuspendLicencePayload(LicenceStatusPayload):
    pass


@strawberry.type(description="Result of reinstateLicence.")
class ReinstateLicencePayload(LicenceStatusPayload):
    pass


@strawberry.input(description="Report wrong licence data (数据纠错).")
class ReportLicenceErrorInput:
    licence_id: strawberry.ID = strawberry.field(description="The licence.")
    description: str = strawberry.field(description="What is wrong (1–500 characters).")


@strawberry.type(description="Result of reportLicenceError.")
class ReportLicenceErrorPayload:
    ticket: LicenceCorrectionTicket | None = strawberry.field(
        default=None, description="The correction ticket opened with the issuer."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND or INVALID_INPUT."
    )


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in person's licences (masked).")
    async def my_licences(self, info: Info[Context, None]) -> list[Licence]:
        viewer = info.context.require_viewer()
        return [licence_view(info, lic) for lic in await info.context.cards.my_licences(viewer)]

    @strawberry.field(description="Licences other people delegated to the signed-in person.")
    async def delegated_licences(self, info: Info[Context, None]) -> list[Licence]:
        viewer = info.context.require_viewer()
        return [licence_view(info, lic) for lic in await info.context.cards.delegated_to_me(viewer)]

    @strawberry.field(description="One of the viewer's (or delegated) licences; null otherwise.")
    async def licence(self, info: Info[Context, None], id: strawberry.ID) -> Licence | None:
        viewer = info.context.require_viewer()
        found = await info.context.cards.licence(viewer, id)
        return licence_view(info, found) if found else None

    @strawberry.field(description="The holder's 用证记录 of a licence, newest first.")
    async def licence_usage_records(
        self,
        info: Info[Context, None],
        licence_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[LicenceUsageRecord]:
        viewer = info.context.require_viewer()
        page = await info.context.cards.usage_records(viewer, licence_id, first, after)
        return Connection(
            edges=[Edge(node=LicenceUsageRecord.of(e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )

    @strawberry.field(description="The holder's grants (授权用证) of a licence.")
    async def licence_grants(
        self, info: Info[Context, None], licence_id: strawberry.ID
    ) -> list[LicenceGrant]:
        viewer = info.context.require_viewer()
        found = await info.context.cards.licence(viewer, licence_id)
        if found is None:
            return []
        return [LicenceGrant.of(g) for g in await info.context.cards.grants(viewer, found)]

    @strawberry.field(description="Every licence type in the registry.")
    def licence_types(self) -> list[LicenceType]:
        return [LicenceType.of(kind) for kind in registry.LICENCE_TYPES.values()]

    @strawberry.field(
        description="The full data of a licence granted to the viewer's organisation "
        "(VERIFIER accounts); null when there is no active grant. Recorded as a use."
    )
    async def granted_licence(
        self, info: Info[Context, None], grant_id: strawberry.ID
    ) -> GrantedLicence | None:
        viewer = info.context.require_viewer()
        found = await info.context.cards.granted_licence(viewer, grant_id)
        if found is None:
            return None
        licence, data = found
        kind = registry.licence_type(licence.type_code)
        if kind is None:
            return None
        return GrantedLicence(
            type=LicenceType.of(kind),
            holder_name=data[registry.HOLDER_NAME],
            number=data[registry.NUMBER],
            id_number=data[registry.ID_NUMBER],
            valid_from=data[registry.VALID_FROM],
            valid_until=data[registry.VALID_UNTIL],
            issuer=data[registry.ISSUER],
            status=data[registry.STATUS],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Mint a 亮证 QR token (holder or delegate; 10 a minute).")
    async def create_licence_qr(
        self, info: Info[Context, None], input: CreateLicenceQrInput
    ) -> CreateLicenceQrPayload:
        viewer = info.context.require_viewer()

        async def act() -> CreateLicenceQrPayload:
            token = await info.context.cards.create_qr(viewer, input.licence_id, input.mode)
            return CreateLicenceQrPayload(qr=LicenceQr.of(token))

        return await run_mutation(CreateLicenceQrPayload, act)

    @strawberry.mutation(description="Check a scanned code (VERIFIER accounts); always recorded.")
    async def verify_licence_qr(
        self, info: Info[Context, None], input: VerifyLicenceQrInput
    ) -> VerifyLicenceQrPayload:
        viewer = info.context.require_viewer()

        async def act() -> VerifyLicenceQrPayload:
            info.context.take_budget("verifyLicenceQr")
            outcome = await info.context.cards.verify_qr(viewer, input.text, input.scene)
            return VerifyLicenceQrPayload.of(outcome)

        return await run_mutation(VerifyLicenceQrPayload, act)

    @strawberry.mutation(description="授权用证: grant an organisation the full data for a time.")
    async def grant_licence_use(
        self, info: Info[Context, None], input: GrantLicenceUseInput
    ) -> GrantLicenceUsePayload:
        viewer = info.context.require_viewer()

        async def act() -> GrantLicenceUsePayload:
            grant = await info.context.cards.grant_use(
                viewer, input.licence_id, input.organization_code, input.purpose, input.expires_at
            )
            return GrantLicenceUsePayload(grant=LicenceGrant.of(grant))

        return await run_mutation(GrantLicenceUsePayload, act)

    @strawberry.mutation(description="Revoke a grant at once.")
    async def revoke_licence_grant(
        self, info: Info[Context, None], input: RevokeLicenceGrantInput
    ) -> RevokeLicenceGrantPayload:
        viewer = info.context.require_viewer()

        async def act() -> RevokeLicenceGrantPayload:
            grant = await info.context.cards.revoke_grant(viewer, input.grant_id)
            return RevokeLicenceGrantPayload(grant=LicenceGrant.of(grant))

        return await run_mutation(RevokeLicenceGrantPayload, act)

    @strawberry.mutation(description="委托用证: let another person show the licence for a time.")
    async def delegate_licence(
        self, info: Info[Context, None], input: DelegateLicenceInput
    ) -> DelegateLicencePayload:
        viewer = info.context.require_viewer()

        async def act() -> DelegateLicencePayload:
            delegation = await info.context.cards.delegate(
                viewer, input.licence_id, input.delegate_phone, input.purpose, input.expires_at
            )
            return DelegateLicencePayload(delegation=LicenceDelegation.of(delegation))

        return await run_mutation(DelegateLicencePayload, act)

    @strawberry.mutation(description="Revoke a delegation at once.")
    async def revoke_licence_delegation(
        self, info: Info[Context, None], input: RevokeLicenceDelegationInput
    ) -> RevokeLicenceDelegationPayload:
        viewer = info.context.require_viewer()

        async def act() -> RevokeLicenceDelegationPayload:
            delegation = await info.context.cards.revoke_delegation(viewer, input.delegation_id)
            return RevokeLicenceDelegationPayload(delegation=LicenceDelegation.of(delegation))

        return await run_mutation(RevokeLicenceDelegationPayload, act)

    @strawberry.mutation(description="注销: revoke a licence (issuer or admin); final.")
    async def revoke_licence(
        self, info: Info[Context, None], input: RevokeLicenceInput
    ) -> RevokeLicencePayload:
        return await _change_status(info, input, "revoke", RevokeLicencePayload)

    @strawberry.mutation(description="Suspend a licence (issuer or admin) until reinstated.")
    async def suspend_licence(
        self, info: Info[Context, None], input: SuspendLicenceInput
    ) -> SuspendLicencePayload:
        return await _change_status(info, input, "suspend", SuspendLicencePayload)

    @strawberry.mutation(description="Reinstate a suspended licence (issuer or admin).")
    async def reinstate_licence(
        self, info: Info[Context, None], input: ReinstateLicenceInput
    ) -> ReinstateLicencePayload:
        return await _change_status(info, input, "reinstate", ReinstateLicencePayload)

    @strawberry.mutation(description="数据纠错: report wrong licence data to its issuer.")
    async def report_licence_error(
        self, info: Info[Context, None], input: ReportLicenceErrorInput
    ) -> ReportLicenceErrorPayload:
        viewer = info.context.require_viewer()

        async def act() -> ReportLicenceErrorPayload:
            ticket = await info.context.cards.report_error(
                viewer, input.licence_id, input.description
            )
            return ReportLicenceErrorPayload(
                ticket=LicenceCorrectionTicket(
                    id=strawberry.ID(to_global_id("LicenceCorrectionTicket", ticket.id)),
                    status=ticket.status,
                    description=ticket.description,
                    created_at=ticket.created_at,
                )
            )

        return await run_mutation(ReportLicenceErrorPayload, act)


S = TypeVar("S", bound=LicenceStatusPayload)


async def _change_status(
    info: Info[Context, None], input: LicenceStatusInput, action: str, payload: type[S]
) -> S:
    viewer = info.context.require_viewer()

    async def act() -> S:
        licence = await info.context.cards.change_status(
            viewer, input.licence_id, action, input.reason
        )
        return payload(licence=licence_view(info, licence))

    return await run_mutation(payload, act)
