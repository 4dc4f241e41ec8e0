"""验证 (spec §6): a verifier's scan of an SDL1 code, checks 1–8, each attempt recorded.

Checks 1–4 are the pure functions of verification.py (shared with `zsb verify-qr`); checks 5–8
need the verifier account and the database and live here. A mixin of `CardsService` (kept
apart so each module stays one concept); it relies on the service's store, key ring, licence
view and usage recording declared below.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from auth.models import Role
from auth.permissions import Viewer
from electronic_cards import registry, sdl1
from electronic_cards.errors import InvalidInputError
from electronic_cards.keys import SdlKeys
from electronic_cards.models import (
    Licence,
    LicenceStatus,
    Verification,
    VerificationResult,
    today_in_china,
)
from electronic_cards.store import CardsStore
from electronic_cards.verification import decode_step, signature_and_time

if TYPE_CHECKING:
    from electronic_cards.service import LicenceView

CONSUMPTION_KEEP = timedelta(seconds=sdl1.MAX_LIFETIME + 120)
_SCENE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")


class Verifying:
    store: CardsStore
    keys: SdlKeys

    if TYPE_CHECKING:
        # Provided by CardsService (electronic_cards/service.py) and its UsageRecords mixin.
        def view(self, licence: Licence, now: datetime | None = None) -> LicenceView: ...

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

    async def _token_licence(self, claims: sdl1.Claims) -> Licence | None:
        if claims.ref is not None:
            return await self.store.licence_by_ref(claims.ref)
        if claims.sl is None or claims.si is None:  # parse_claims guarantees both offline
            return None
        return await self.store.find_by_status_slot(claims.sl, claims.si)

    def _disclose(self, licence: Licence, fields: tuple[str, ...], now: datetime) -> dict[str, Any]:
        view = self.view(licence, now)
        values: dict[str, str | None] = {
            registry.HOLDER_NAME: view.holder_name,
            registry.NUMBER: view.number,
            registry.ID_NUMBER: view.id_number,
            registry.VALID_FROM: licence.valid_from.isoformat(),
            registry.VALID_UNTIL: licence.valid_until.isoformat() if licence.valid_until else None,
            registry.ISSUER: licence.issuer,
            registry.STATUS: view.status.value,
        }
        return {name: values[name] for name in fields}

    async def verify_qr(self, viewer: Viewer, text: str, scene: str) -> Verification:
        viewer.require_role(Role.VERIFIER)
        if not isinstance(scene, str) or not _SCENE.match(scene):
            raise InvalidInputError("场景代码格式不正确 (malformed scene code)", field="scene")
        if not isinstance(text, str) or len(text) > 10 * sdl1.MAX_TEXT:
            # Not even an attempt at a token; refused without a record (spec length is 1,000).
            raise InvalidInputError("二维码内容过长 (text too long)", field="text")
        now = datetime.now(UTC)
        unix = int(now.timestamp())
        decoded = decode_step(text)
        licence: Licence | None = None
        kid: str | None = None
        cti: str | None = None
        outcome: Verification
        if isinstance(decoded, VerificationResult):
            outcome = Verification(decoded, now)
        else:
            kid, cti = decoded.sign1.kid.hex(), decoded.claims.cti.hex()
            key = await self.keys.verifying_key_fresh(self.store, decoded.sign1.kid, now)
            failed = signature_and_time(
                decoded, key.verify if key else None, unix, key_alg=key.alg if key else None
            )
            if failed in (None, VerificationResult.NOT_YET_VALID, VerificationResult.EXPIRED):
                # The signature holds, so the licence it names is ours to attribute the record to.
                licence = await self._token_licence(decoded.claims)
            if failed is not None:
                outcome = Verification(failed, now, _type_code(decoded.claims.lt))
            else:
                outcome = await self._checks_5_to_8(viewer, decoded, scene, licence, now)
        await self._record(viewer, scene, outcome, licence, kid, cti)
        return outcome

    async def _checks_5_to_8(
        self,
        viewer: Viewer,
        decoded: sdl1.DecodedToken,
        scene: str,
        licence: Licence | None,
        now: datetime,
    ) -> Verification:
        claims = decoded.claims
        type_code = _type_code(claims.lt)
        profile = registry.SCENES.get(scene)
        fields = profile.fields_for(type_code) if profile and type_code else None
        if scene not in viewer.scenes or fields is None:
            return Verification(VerificationResult.NOT_AUTHORISED, now, type_code)
        # Check 7's answer is worked out before check 6's claim so the claim can keep it in the
        # same insert (one round trip, and no claim without its answer for a same-verifier
        # rescan to return). The order of *results* is unchanged: a token claimed by someone
        # else is REPLAYED whatever its licence's status, and the computed answer is dropped.
        if licence is None:
            # Signed by us but mapping to nothing: the licence was deleted from the wallet.
            outcome = Verification(VerificationResult.REVOKED, now, type_code)
        else:
            status = licence.effective_status(today_in_china(now))
            if status is LicenceStatus.VALID:
                outcome = Verification(
                    VerificationResult.VALID, now, type_code, self._disclose(licence, fields, now)
                )
            else:
                outcome = Verification(VerificationResult(status.value), now, type_code)
        earlier = await self.store.claim_token(
            claims.cti.hex(),
            viewer.user_id,
            now,
            datetime.fromtimestamp(claims.exp, UTC) + CONSUMPTION_KEEP,
            {"result": outcome.result.value, "fields": outcome.fields},
        )
        if earlier is not None:
            if earlier["verifier_id"] != viewer.user_id:
                return Verification(VerificationResult.REPLAYED, now, type_code)
            answer = earlier.get("answer")
            if answer is not None:  # the same verifier again: its first answer again
                return Verification(
                    VerificationResult(answer["result"]), now, type_code, dict(answer["fields"])
                )
        return outcome


def _type_code(token_code: str) -> str | None:
    kind = registry.by_token_code(token_code)
    return kind.code if kind else None
