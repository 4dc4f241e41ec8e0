"""The licence wallet's rules: who may see, show, check, grant, delegate and revoke what.

`CardsService` is composed of one mixin per concept: issuing.py (putting a licence into a
wallet), minting.py (亮证 QR tokens), verifying.py (spec §6 checks), usage_records.py (用证记录
and the holder's notice of each check), lifecycle.py (issuer actions, expiry reminders),
sharing.py (授权用证, 委托用证, 数据纠错) and publishing.py (keys and status lists). This module
holds what they share — sealing of personal data at rest, the access check, holder events —
and the holder's reads. Names that used to be defined here are re-exported from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from app import sealing
from app.errors import DomainError
from app.ids import object_id_from_global
from app.masking import mask_name, mask_number
from auth.permissions import Viewer
from auth.service import AuthService
from electronic_cards import registry
from electronic_cards.errors import LicenceNotFoundError
from electronic_cards.issuing import Issuing, LicenceSpec
from electronic_cards.keys import SdlKeys
from electronic_cards.lifecycle import REMINDER_DAYS, Lifecycle
from electronic_cards.minting import (
    ISSUING_PLATFORM,
    MINT_LIMIT,
    MINT_WINDOW,
    QR_TOKEN_KEEP,
    TOKEN_LIFETIME,
    QrMinting,
    QrToken,
)
from electronic_cards.models import Licence, LicenceStatus, today_in_china
from electronic_cards.publishing import Publishing
from electronic_cards.sharing import MAX_DELEGATION, MAX_GRANT, SharingRules
from electronic_cards.store import CardsStore
from electronic_cards.usage_records import UsageRecords
from electronic_cards.verifying import CONSUMPTION_KEEP, Verifying

_SEAL_PURPOSE = "licence-data"


@dataclass(frozen=True, slots=True)
class LicenceView:
    """A licence as a client may see it: personal data masked per its type."""

    licence: Licence
    type: registry.LicenceType
    holder_name: str
    number: str
    id_number: str | None
    status: LicenceStatus


class CardsService(
    Issuing, QrMinting, Verifying, UsageRecords, Lifecycle, SharingRules, Publishing
):
    def __init__(
        self, store: CardsStore, keys: SdlKeys, seal_key: bytes, auth: AuthService
    ) -> None:
        self.store = store
        self.keys = keys
        self._seal_key = seal_key
        self.auth = auth

    # -- sealing personal data at rest --------------------------------------------------------

    def _encrypt(self, text: str) -> bytes:
        return sealing.encrypt(self._seal_key, text, _SEAL_PURPOSE)

    def _decrypt(self, blob: bytes) -> str:
        # During a master-secret rotation a licence not yet resealed is under the older key.
        keys = (self._seal_key, *self.auth.keyring.all("licence_data")[1:])
        return sealing.decrypt_any(keys, blob, _SEAL_PURPOSE)

    # -- reading -----------------------------------------------------------------------------

    def view(self, licence: Licence, now: datetime | None = None) -> LicenceView:
        kind = registry.licence_type(licence.type_code)
        if kind is None:
            raise RuntimeError(f"licence {licence.id} has an unregistered type")
        number = self._decrypt(licence.number_cipher)
        id_number = self._decrypt(licence.id_number_cipher) if licence.id_number_cipher else None
        masked = kind.masked_fields
        return LicenceView(
            licence=licence,
            type=kind,
            holder_name=(
                mask_name(licence.holder_name)
                if registry.HOLDER_NAME in masked
                else licence.holder_name
            ),
            number=mask_number(number) if registry.NUMBER in masked else number,
            id_number=mask_number(id_number) if id_number else None,
            status=licence.effective_status(today_in_china(now or datetime.now(UTC))),
        )

    async def my_licences(self, viewer: Viewer) -> list[Licence]:
        return await self.store.licences_of(viewer.user_id)

    async def delegated_to_me(self, viewer: Viewer) -> list[Licence]:
        delegations = await self.store.delegations_to(viewer.user_id, datetime.now(UTC))
        found = await self.store.get_licences([d.licence_id for d in delegations])
        return [found[d.licence_id] for d in delegations if d.licence_id in found]

    async def _licence_for(
        self, viewer: Viewer, licence_gid: str, *, allow_delegate: bool
    ) -> Licence:
        """The licence if the viewer holds it (or, when allowed, is its active delegate).

        Anything else — a malformed id, no such licence, someone else's — is the same
        LicenceNotFoundError, so ids cannot be probed."""
        licence_id = object_id_from_global(licence_gid, "Licence", field="licenceId")
        licence = await self.store.get_licence(licence_id)
        if licence is None:
            raise LicenceNotFoundError()
        if licence.holder_id == viewer.user_id:
            return licence
        if allow_delegate and await self.store.active_delegation(
            licence.id, viewer.user_id, datetime.now(UTC)
        ):
            return licence
        raise LicenceNotFoundError()

    async def licence(self, viewer: Viewer, licence_gid: str) -> Licence | None:
        try:
            return await self._licence_for(viewer, licence_gid, allow_delegate=True)
        except DomainError:
            return None

    # -- holder events -------------------------------------------------------------------------

    async def _holder_event(
        self, licence: Licence, kind: str, data: dict[str, Any], dedupe_key: str | None = None
    ) -> bool:
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "holder_id": licence.holder_id,
            "licence_id": licence.id,
            "kind": kind,
            "at": datetime.now(UTC),
            "data": data,
            "delivered_at": None,
        }
        if dedupe_key:
            doc["dedupe_key"] = dedupe_key
        return await self.store.insert_event(doc)


__all__ = [
    "CONSUMPTION_KEEP",
    "ISSUING_PLATFORM",
    "MAX_DELEGATION",
    "MAX_GRANT",
    "MINT_LIMIT",
    "MINT_WINDOW",
    "QR_TOKEN_KEEP",
    "REMINDER_DAYS",
    "TOKEN_LIFETIME",
    "CardsService",
    "LicenceSpec",
    "LicenceView",
    "QrToken",
]
