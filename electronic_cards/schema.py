"""GraphQL types, queries and mutations of the licence wallet: thin calls into the service."""

from __future__ import annotations

import asyncio
import base64
from datetime import date, datetime
from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.api_types import JSON, UserError, run_mutation
from app.context import Context
from app.ids import to_global_id
from app.pagination import Connection, Edge
from electronic_cards import models, registry
from electronic_cards.models import Verification
from electronic_cards.rendering import render_png
from electronic_cards.service import LicenceView, QrToken
from graphql import GraphQLError

strawberry.enum(
    models.LicenceStatus,
    description="VALID, SUSPENDED (temporarily not usable), REVOKED (注销) or EXPIRED.",
)
strawberry.enum(
    models.QrMode,
    description="ONLINE: the code carries an opaque handle and is checked through the API. "
    "OFFLINE: it carries masked face data and a status-list index for offline checks.",
)
strawberry.enum(
    models.VerificationResult,
    description="Outcome of one check, in the order of SDL1 spec §6: MALFORMED, UNKNOWN_KEY, "
    "INVALID_SIGNATURE, NOT_YET_VALID, EXPIRED, NOT_AUTHORISED, REPLAYED, REVOKED, SUSPENDED, "
    "VALID.",
)

PNG_SIZES = (64, 2048)


@strawberry.type(description="A kind of licence in the registry (证照类型).")
class LicenceType:
    code: str = strawberry.field(description="Short stable code carried in QR tokens (JMSFZ).")
    national_code: str = strawberry.field(description="证照类型代码 of the national catalogue.")
    name: str = strawberry.field(description="Name, e.g. 居民身份证.")
    issuing_authority: str = strawberry.field(description="Who issues it (发证机关 by role).")
    sensitive: bool = strawberry.field(description="Showing it needs assurance L3.")

    @classmethod
    def of(cls, kind: registry.LicenceType) -> LicenceType:
        return cls(
            code=kind.code,
            national_code=kind.national_code,
            name=kind.name,
            issuing_authority=kind.authority,
            sensitive=kind.sensitive,
        )


@strawberry.type(description="A licence in the wallet (电子证照); personal data masked.")
class Licence:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    type: LicenceType = strawberry.field(description="The licence type.")
    holder_name: str = strawberry.field(description="Name on the licence, masked (张*明).")
    number: str = strawberry.field(description="Licence number, masked (first 4 + last 4).")
    id_number: str | None = strawberry.field(description="Holder's identity number, masked.")
    issuer: str = strawberry.field(description="Issuing authority as printed (发证机关).")
    valid_from: date = strawberry.field(description="First day of validity.")
    valid_until: date | None = strawberry.field(description="Last day of validity; null: 长期.")
    status: models.LicenceStatus = strawberry.field(description="Live status.")
    face_data: JSON = strawberry.field(
        description="Further 照面信息 printed on the licence (e.g. driving_class), by name."
    )

    @classmethod
    def of(cls, view: LicenceView) -> Licence:
        lic = view.licence
        return cls(
            id=strawberry.ID(to_global_id("Licence", lic.id)),
            type=LicenceType.of(view.type),
            holder_name=view.holder_name,
            number=view.number,
            id_number=view.id_number,
            issuer=lic.issuer,
            valid_from=lic.valid_from,
            valid_until=lic.valid_until,
            status=view.status,
            face_data=JSON(dict(lic.attributes)),
        )


def _licence(info: Info[Context, None], licence: models.Licence) -> Licence:
    return Licence.of(info.context.cards.view(licence))


@strawberry.type(description="A 亮证 QR code: a short-lived signed SDL1 token.")
class LicenceQr:
    text: str = strawberry.field(description="The SDL1 token to put into the QR code.")
    mode: models.QrMode = strawberry.field(description="ONLINE or OFFLINE.")
    expires_at: datetime = strawberry.field(description="When the token stops verifying.")

    @strawberry.field(
        description="Base64 PNG of the QR code (level M), rendered only when asked for; at "
        "most `size` pixels wide (64–2048, default 300)."
    )
    async def png(self, size: int | None = None) -> str:
        size = 300 if size is None else size
        if not PNG_SIZES[0] <= size <= PNG_SIZES[1]:
            raise GraphQLError(
                "size must be 64..2048", extensions={"code": "INVALID_INPUT", "field": "size"}
            )
        image = await asyncio.to_thread(render_png, self.text, size)
        return base64.b64encode(image).decode()

    @classmethod
    def of(cls, token: QrToken) -> LicenceQr:
        return cls(text=token.text, mode=token.mode, expires_at=token.expires_at)


@strawberry.type(description="An organisation that checked a licence.")
class VerifierOrganization:
    code: str | None = strawberry.field(description="The organisation's code.")
    name: str | None = strawberry.field(description="The organisation's name.")


@strawberry.type(description="One check of a licence (用证记录), as its holder sees it.")
class LicenceUsageRecord:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    at: datetime = strawberry.field(description="When the check was made.")
    result: models.VerificationResult = strawberry.field(description="What the verifier got.")
    scene: str = strawberry.field(description="The scene code the verifier named.")
    verifier_organization: VerifierOrganization = strawberry.field(description="Who checked.")
    fields_disclosed: list[str] = strawberry.field(
        description="Names of the fields shown to the verifier (never their values)."
    )
    flagged: bool = strawberry.field(
        description="True for a REPLAYED or NOT_AUTHORISED attempt: worth the holder's look."
    )
    channel: str = strawberry.field(description="ONLINE (QR scan) or GRANT (授权用证 fetch).")

    @classmethod
    def of(cls, record: models.UsageRecord) -> LicenceUsageRecord:
        return cls(
            id=strawberry.ID(to_global_id("LicenceUsageRecord", record.id)),
            at=record.at,
            result=record.result,
            scene=record.scene,
            verifier_organization=VerifierOrganization(
                code=record.verifier_org_code, name=record.verifier_org_name
            ),
            fields_disclosed=list(record.fields_disclosed),
            flagged=record.flagged,
            channel=record.channel,
        )


@strawberry.type(description="What a verifier may see of a checked licence (masked).")
class VerifiedLicence:
    type: LicenceType = strawberry.field(description="The licence type.")
    holder_name: str | None = strawberry.field(description="Masked name, if disclosed.")
    number: str | None = strawberry.field(description="Masked number, if disclosed.")
    id_number: str | None = strawberry.field(description="Masked identity number, if disclosed.")
    valid_from: str | None = strawberry.field(description="yyyy-mm-dd, if disclosed.")
    valid_until: str | None = strawberry.field(description="yyyy-mm-dd, if disclosed (null: 长期).")
    issuer: str | None = strawberry.field(description="Issuing authority, if disclosed.")
    status: str | None = strawberry.field(description="Live status, if disclosed.")
    disclosed_fields: list[str] = strawberry.field(description="Which fields the scene shows.")

    @classmethod
    def of(cls, type_code: str, fields: dict[str, str | None]) -> VerifiedLicence | None:
        kind = registry.licence_type(type_code)
        if kind is None:
            return None
        return cls(
            type=LicenceType.of(kind),
            holder_name=fields.get(registry.HOLDER_NAME),
            number=fields.get(registry.NUMBER),
            id_number=fields.get(registry.ID_NUMBER),
            valid_from=fields.get(registry.VALID_FROM),
            valid_until=fields.get(registry.VALID_UNTIL),
            issuer=fields.get(registry.ISSUER),
            status=fields.get(registry.STATUS),
            disclosed_fields=list(fields),
        )


@strawberry.type(description="授权用证: an organisation's time-limited right to the full data.")
class LicenceGrant:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    organization_code: str = strawberry.field(description="The organisation granted.")
    purpose: str = strawberry.field(description="What the data may be used for.")
    created_at: datetime = strawberry.field(description="When the holder granted it.")
    expires_at: datetime = strawberry.field(description="When it lapses.")
    revoked_at: datetime | None = strawberry.field(description="When the holder revoked it.")

    @classmethod
    def of(cls, grant: models.Grant) -> LicenceGrant:
        return cls(
            id=strawberry.ID(to_global_id("LicenceGrant", grant.id)),
            organization_code=grant.organization_code,
            purpose=grant.purpose,
            created_at=grant.created_at,
            expires_at=grant.expires_at,
            revoked_at=grant.revoked_at,
        )


@strawberry.type(description="委托用证: another person may show the licence for the holder.")
class LicenceDelegation:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    purpose: str = strawberry.field(description="The errand, e.g. 代办营业执照变更.")
    created_at: datetime = strawberry.field(description="When the holder delegated.")
    expires_at: datetime = strawberry.field(description="When it lapses.")
    revoked_at: datetime | None = strawberry.field(description="When the holder revoked it.")

    @classmethod
    def of(cls, delegation: models.Delegation) -> LicenceDelegation:
        return cls(
            id=strawberry.ID(to_global_id("LicenceDelegation", delegation.id)),
            purpose=delegation.purpose,
            created_at=delegation.created_at,
            expires_at=delegation.expires_at,
            revoked_at=delegation.revoked_at,
        )


@strawberry.type(description="数据纠错: a report that a licence's data is wrong.")
class LicenceCorrectionTicket:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    status: str = strawberry.field(description="OPEN, then RESOLVED or REJECTED by the issuer.")
    description: str = strawberry.field(description="What the holder says is wrong.")
    created_at: datetime = strawberry.field(description="When it was reported.")


@strawberry.type(description="The full licence data an organisation was granted (授权用证).")
class GrantedLicence:
    type: LicenceType = strawberry.field(description="The licence type.")
    holder_name: str = strawberry.field(description="Name, unmasked (granted by the holder).")
    number: str = strawberry.field(description="Licence number, unmasked.")
    id_number: str | None = strawberry.field(description="Identity number, unmasked.")
    valid_from: str = strawberry.field(description="yyyy-mm-dd.")
    valid_until: str | None = strawberry.field(description="yyyy-mm-dd; null: 长期.")
    issuer: str = strawberry.field(description="Issuing authority.")
    status: str = strawberry.field(description="Live status.")


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
        return [_licence(info, lic) for lic in await info.context.cards.my_licences(viewer)]

    @strawberry.field(description="Licences other people delegated to the signed-in person.")
    async def delegated_licences(self, info: Info[Context, None]) -> list[Licence]:
        viewer = info.context.require_viewer()
        return [_licence(info, lic) for lic in await info.context.cards.delegated_to_me(viewer)]

    @strawberry.field(description="One of the viewer's (or delegated) licences; null otherwise.")
    async def licence(self, info: Info[Context, None], id: strawberry.ID) -> Licence | None:
        viewer = info.context.require_viewer()
        found = await info.context.cards.licence(viewer, id)
        return _licence(info, found) if found else None

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
        return payload(licence=_licence(info, licence))

    return await run_mutation(payload, act)
