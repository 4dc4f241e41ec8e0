"""亮证: minting a signed SDL1 QR token for a licence (online handle or offline claims).

A mixin of `CardsService` (kept apart so each module stays one concept); it relies on the
service's store, key ring, access check and licence view declared below.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.errors import RateLimitedError
from app.masking import mask_name, mask_number
from auth.models import AssuranceLevel
from auth.permissions import Viewer
from electronic_cards import registry, sdl1
from electronic_cards.errors import (
    AssuranceRequiredError,
    LicenceNotFoundError,
    LicenceNotValidError,
)
from electronic_cards.keys import SdlKeys
from electronic_cards.models import Licence, LicenceStatus, QrMode, today_in_china
from electronic_cards.store import CardsStore

if TYPE_CHECKING:
    from electronic_cards.service import LicenceView

ISSUING_PLATFORM = "370200"  # claim `iss`: the Qingdao platform's region code
TOKEN_LIFETIME = 60  # seconds (spec §3 default)
MINT_LIMIT = 10  # tokens per licence ...
MINT_WINDOW = timedelta(seconds=60)  # ... per minute
QR_TOKEN_KEEP = timedelta(days=1)  # token → licence mapping outlives every token


@dataclass(frozen=True, slots=True)
class QrToken:
    text: str
    mode: QrMode
    issued_at: datetime
    expires_at: datetime


class QrMinting:
    store: CardsStore
    keys: SdlKeys

    if TYPE_CHECKING:
        # Provided by CardsService (electronic_cards/service.py).
        async def _licence_for(
            self, viewer: Viewer, licence_gid: str, *, allow_delegate: bool
        ) -> Licence: ...

        def _decrypt(self, blob: bytes) -> str: ...

        def view(self, licence: Licence, now: datetime | None = None) -> LicenceView: ...

    async def create_qr(self, viewer: Viewer, licence_gid: str, mode: QrMode) -> QrToken:
        licence = await self._licence_for(viewer, licence_gid, allow_delegate=True)
        kind = registry.licence_type(licence.type_code)
        if kind is None:
            raise LicenceNotFoundError()
        if kind.sensitive and viewer.assurance_level.rank < AssuranceLevel.L3.rank:
            raise AssuranceRequiredError(AssuranceLevel.L3.value)
        now = datetime.now(UTC)
        status = licence.effective_status(today_in_china(now))
        if status is not LicenceStatus.VALID:
            raise LicenceNotValidError(status.value)
        await self.keys.refresh_if_stale(self.store)
        key = self.keys.signing_key(now)
        iat = int(now.timestamp())
        fresh = secrets.token_bytes(20)  # one draw: cti, and the online handle
        cti = fresh[:8]
        token_doc: dict[str, Any] = {
            "_id": cti.hex(),
            "licence_id": licence.id,
            "holder_id": licence.holder_id,
            "minted_by": viewer.user_id,
            "mode": mode.value,
            "kid": key.kid.hex(),
            "iat": iat,
            "exp": iat + TOKEN_LIFETIME,
            "expires_at": now + QR_TOKEN_KEEP,
        }
        if mode is QrMode.ONLINE:
            ref = fresh[8:]  # a fresh handle per token: codes are unlinkable
            token_doc["ref"] = ref
            claims = sdl1.Claims(
                ISSUING_PLATFORM, iat, iat + TOKEN_LIFETIME, cti, kind.token_code, ref
            )
        else:
            view = self.view(licence, now)
            claims = sdl1.Claims(
                ISSUING_PLATFORM,
                iat,
                iat + TOKEN_LIFETIME,
                cti,
                kind.token_code,
                nm=mask_name(licence.holder_name),
                idn=view.id_number or "-",
                no=mask_number(self._decrypt(licence.number_cipher)),
                vu=int((licence.valid_until or date(9999, 12, 31)).strftime("%Y%m%d")),
                si=licence.status_index,
                sl=licence.status_list_id,
            )
        text = sdl1.encode_token(claims, key)
        # The mint-limit slot and the token row in one transaction (none of them a retryable
        # write of its own); the text goes out only once both are committed.
        if not await self.store.mint(
            licence.id, now, token_doc, limit=MINT_LIMIT, window=MINT_WINDOW
        ):
            raise RateLimitedError(
                "亮证过于频繁，请稍后再试 (at most 10 codes per licence per minute)",
                retry_after=int(MINT_WINDOW.total_seconds()),
                field="licenceId",
            )
        return QrToken(
            text=text,
            mode=mode,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(iat + TOKEN_LIFETIME, UTC),
        )
