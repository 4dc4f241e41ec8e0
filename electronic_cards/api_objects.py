"""The licence wallet's GraphQL object types (what queries and payloads return)."""

from __future__ import annotations

import asyncio
import base64
from datetime import date, datetime

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.api_types import JSON
from app.context import Context
from app.ids import to_global_id
from electronic_cards import models, registry
from electronic_cards.rendering import render_png
from electronic_cards.service import LicenceView, QrToken

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
    token_code: str = strawberry.field(
        description="The two-character SDL1 claim `lt` (01); offline verifiers map it to a name."
    )
    national_code: str = strawberry.field(description="证照类型代码 of the national catalogue.")
    name: str = strawberry.field(description="Name, e.g. 居民身份证.")
    issuing_authority: str = strawberry.field(description="Who issues it (发证机关 by role).")
    sensitive: bool = strawberry.field(description="Showing it needs assurance L3.")

    @classmethod
    def of(cls, kind: registry.LicenceType) -> LicenceType:
        return cls(
            code=kind.code,
            token_code=kind.token_code,
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


def licence_view(info: Info[Context, None], licence: models.Licence) -> Licence:
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
