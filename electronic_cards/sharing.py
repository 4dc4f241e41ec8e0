"""授权用证, 委托用证 and 数据纠错: what a holder lets others do with a licence.

A mixin of `CardsService` (kept apart so each module stays one concept); it relies on the
service's store, identity lookups and shared helpers declared below.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from app.errors import DomainError
from app.ids import object_id_from_global
from auth.models import Role
from auth.permissions import Viewer
from electronic_cards import registry
from electronic_cards.errors import InvalidInputError, InvalidTransitionError
from electronic_cards.models import (
    CorrectionTicket,
    Delegation,
    Grant,
    Licence,
    Verification,
    VerificationResult,
    today_in_china,
)

if TYPE_CHECKING:
    from auth.service import AuthService
    from electronic_cards.store import CardsStore

_ORG_CODE = re.compile(r"^[A-Za-z0-9-]{2,40}$")
MAX_GRANT = timedelta(days=90)
MAX_DELEGATION = timedelta(days=30)


class SharingRules:
    store: CardsStore
    auth: AuthService

    if TYPE_CHECKING:
        # Provided by CardsService (electronic_cards/service.py) and its UsageRecords mixin.
        async def _licence_for(
            self, viewer: Viewer, licence_gid: str, *, allow_delegate: bool
        ) -> Licence: ...

        def _decrypt(self, blob: bytes) -> str: ...

        async def _record(
            self,
            viewer: Viewer,
            scene: str,
            outcome: Verification,
            licence: Licence | None,
            kid: str | None,
            cti: str | None,
            channel: str = "ONLINE",
        ) -> None: ...

        async def _holder_event(
            self, licence: Licence, kind: str, data: dict[str, Any], dedupe_key: str | None = None
        ) -> bool: ...

    # -- 授权用证 --------------------------------------------------------------------------------

    async def grant_use(
        self,
        viewer: Viewer,
        licence_gid: str,
        organization_code: str,
        purpose: str,
        expires_at: datetime,
    ) -> Grant:
        licence = await self._licence_for(viewer, licence_gid, allow_delegate=False)
        now = datetime.now(UTC)
        expires_at = _aware(expires_at)
        if not isinstance(organization_code, str) or not _ORG_CODE.match(organization_code):
            raise InvalidInputError("机构代码不正确 (malformed code)", field="organizationCode")
        purpose = text_input(purpose, "purpose", 100)
        if not now < expires_at <= now + MAX_GRANT:
            raise InvalidInputError(
                "授权期限须在将来 90 天之内 (expiry must be within 90 days)", field="expiresAt"
            )
        grant = Grant(
            ObjectId(), licence.id, licence.holder_id, organization_code, purpose, now, expires_at
        )
        await self.store.insert_grant(grant)
        await self._holder_event(licence, "LICENCE_GRANTED", {"grant_id": grant.id})
        return grant

    async def revoke_grant(self, viewer: Viewer, grant_gid: str) -> Grant:
        grant_id = object_id_from_global(grant_gid, "LicenceGrant", field="grantId")
        grant = await self.store.get_grant(grant_id)
        if grant is None or grant.holder_id != viewer.user_id:
            raise DomainError("授权不存在 (no such grant)", code="NOT_FOUND", field="grantId")
        revoked = await self.store.revoke_grant(grant_id, datetime.now(UTC))
        if revoked is None:
            raise InvalidTransitionError("授权已撤销 (grant already revoked)")
        return revoked

    async def grants(self, viewer: Viewer, licence: Licence) -> list[Grant]:
        if licence.holder_id != viewer.user_id:
            return []
        return await self.store.grants_of(licence.id)

    async def granted_licence(
        self, viewer: Viewer, grant_gid: str
    ) -> tuple[Licence, dict[str, Any]] | None:
        """The full (unmasked) licence data an organisation was granted, recorded as a use."""
        viewer.require_role(Role.VERIFIER)
        try:
            grant_id = object_id_from_global(grant_gid, "LicenceGrant", field="grantId")
        except DomainError:
            return None
        grant = await self.store.get_grant(grant_id)
        now = datetime.now(UTC)
        if grant is None or grant.organization_code != viewer.organization_code:
            return None
        if not grant.active(now):
            return None
        licence = await self.store.get_licence(grant.licence_id)
        if licence is None:
            return None
        status = licence.effective_status(today_in_china(now))
        full: dict[str, Any] = {
            registry.HOLDER_NAME: licence.holder_name,
            registry.NUMBER: self._decrypt(licence.number_cipher),
            registry.ID_NUMBER: (
                self._decrypt(licence.id_number_cipher) if licence.id_number_cipher else None
            ),
            registry.VALID_FROM: licence.valid_from.isoformat(),
            registry.VALID_UNTIL: licence.valid_until.isoformat() if licence.valid_until else None,
            registry.ISSUER: licence.issuer,
            registry.STATUS: status.value,
        }
        outcome = Verification(VerificationResult(status.value), now, licence.type_code, full)
        await self._record(
            viewer, f"GRANT:{grant.purpose}"[:60], outcome, licence, None, None, "GRANT"
        )
        return licence, full

    # -- 委托用证 --------------------------------------------------------------------------------

    async def delegate(
        self,
        viewer: Viewer,
        licence_gid: str,
        delegate_phone: str,
        purpose: str,
        expires_at: datetime,
    ) -> Delegation:
        licence = await self._licence_for(viewer, licence_gid, allow_delegate=False)
        now = datetime.now(UTC)
        expires_at = _aware(expires_at)
        purpose = text_input(purpose, "purpose", 100)
        if not now < expires_at <= now + MAX_DELEGATION:
            raise InvalidInputError(
                "委托期限须在将来 30 天之内 (expiry must be within 30 days)", field="expiresAt"
            )
        delegate = await self.auth.find_user_by_phone(delegate_phone, field="delegatePhone")
        if delegate is None or delegate.id == viewer.user_id:
            raise DomainError(
                "受托人须为已注册的其他用户 (delegate must be another registered user)",
                code="INVALID_DELEGATE",
                field="delegatePhone",
            )
        delegation = Delegation(
            ObjectId(), licence.id, licence.holder_id, delegate.id, purpose, now, expires_at
        )
        await self.store.insert_delegation(delegation)
        await self._holder_event(licence, "LICENCE_DELEGATED", {"delegation_id": delegation.id})
        return delegation

    async def revoke_delegation(self, viewer: Viewer, delegation_gid: str) -> Delegation:
        delegation_id = object_id_from_global(
            delegation_gid, "LicenceDelegation", field="delegationId"
        )
        delegation = await self.store.get_delegation(delegation_id)
        if delegation is None or delegation.holder_id != viewer.user_id:
            raise DomainError(
                "委托不存在 (no such delegation)", code="NOT_FOUND", field="delegationId"
            )
        revoked = await self.store.revoke_delegation(delegation_id, datetime.now(UTC))
        if revoked is None:
            raise InvalidTransitionError("委托已撤销 (delegation already revoked)")
        return revoked

    async def report_error(
        self, viewer: Viewer, licence_gid: str, description: str
    ) -> CorrectionTicket:
        licence = await self._licence_for(viewer, licence_gid, allow_delegate=False)
        ticket = CorrectionTicket(
            ObjectId(),
            licence.id,
            licence.holder_id,
            licence.issuer_code,
            text_input(description, "description", 500),
            "OPEN",
            datetime.now(UTC),
        )
        await self.store.insert_correction(ticket)
        await self._holder_event(licence, "LICENCE_CORRECTION_OPENED", {"ticket_id": ticket.id})
        return ticket


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def text_input(value: str, field_name: str, limit: int) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not 0 < len(value) <= limit:
        raise InvalidInputError(
            f"{field_name} 须为 1 到 {limit} 个字符 (1..{limit} characters)", field=field_name
        )
    return value
