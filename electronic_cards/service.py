"""The licence wallet's rules: who may see, show, check, grant, delegate and revoke what."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId
from pymongo import InsertOne
from pymongo.errors import PyMongoError

from app import sealing
from app.db import Document
from app.errors import DomainError, ForbiddenError, RateLimitedError
from app.ids import object_id_from_global, to_global_id
from app.masking import mask_name, mask_number
from app.pagination import Connection
from auth.models import AssuranceLevel, Role
from auth.permissions import Viewer
from auth.service import AuthService
from electronic_cards import registry, sdl1, status_list, verifier_orgs
from electronic_cards.errors import (
    AssuranceRequiredError,
    InvalidInputError,
    InvalidTransitionError,
    LicenceNotFoundError,
    LicenceNotValidError,
)
from electronic_cards.keys import STATUS_LIST_LIFETIME, SdlKeys
from electronic_cards.models import (
    Licence,
    LicenceStatus,
    QrMode,
    UsageRecord,
    Verification,
    VerificationResult,
    today_in_china,
)
from electronic_cards.sharing import SharingRules, text_input
from electronic_cards.store import STATUS_LIST_SIZE, CardsStore, StatusSlotTaken
from electronic_cards.verification import decode_step, signature_and_time
from notifications import service as notifications_service

log = logging.getLogger(__name__)
_CHINA = ZoneInfo("Asia/Shanghai")

ISSUING_PLATFORM = "370200"  # claim `iss`: the Qingdao platform's region code
TOKEN_LIFETIME = 60  # seconds (spec §3 default)
MINT_LIMIT = 10  # tokens per licence ...
MINT_WINDOW = timedelta(seconds=60)  # ... per minute
CONSUMPTION_KEEP = timedelta(seconds=sdl1.MAX_LIFETIME + 120)
QR_TOKEN_KEEP = timedelta(days=1)  # token → licence mapping outlives every token
REMINDER_DAYS = (30, 7)
_SEAL_PURPOSE = "licence-data"
_SCENE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
_ORG_CODE = re.compile(r"^[A-Za-z0-9-]{2,40}$")
MAX_GRANT = timedelta(days=90)
MAX_DELEGATION = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class LicenceView:
    """A licence as a client may see it: personal data masked per its type."""

    licence: Licence
    type: registry.LicenceType
    holder_name: str
    number: str
    id_number: str | None
    status: LicenceStatus


@dataclass(frozen=True, slots=True)
class QrToken:
    text: str
    mode: QrMode
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LicenceSpec:
    """What an issuer (or the demo) provides to put a licence into a holder's wallet."""

    type_code: str
    holder_name: str
    number: str
    issuer: str
    issuer_code: str
    valid_from: date
    valid_until: date | None
    id_number: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


class CardsService(SharingRules):
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

    # -- issuing ------------------------------------------------------------------------------

    async def issue_licence(
        self, holder_id: ObjectId, spec: LicenceSpec, *, licence_id: ObjectId | None = None
    ) -> Licence:
        """Put a licence into a holder's wallet (the issuer side; demo data uses it too).

        With `licence_id` (the application it results from) issuing is idempotent: a retry after
        a failure returns the licence an earlier attempt wrote instead of issuing a second one.
        """
        _check_type(spec)
        if licence_id is not None and (earlier := await self.store.get_licence(licence_id)):
            return earlier
        now = datetime.now(UTC)
        list_id = await self.store.open_status_list(now)
        for _ in range(20):  # random index (spec §5); a collision just draws again
            licence = self._licence(holder_id, spec, licence_id or ObjectId(), list_id, now)
            try:
                await self.store.insert_licence(licence)
            except StatusSlotTaken:
                if licence_id is not None and (earlier := await self.store.get_licence(licence_id)):
                    return earlier  # a concurrent retry issued it first
                continue
            return licence
        raise RuntimeError("no free status-list index after 20 draws")

    async def licence_to_issue(
        self, holder_id: ObjectId, spec: LicenceSpec, licence_id: ObjectId
    ) -> tuple[Licence, InsertOne[Document]]:
        """The licence `issue_licence` would write, as a write for the caller's own
        transaction: a licence issued together with the case it results from. Its status-list
        slot is counted by `licence_issued` once that transaction committed (a refused or
        repeated request counts none). A duplicate key at the write means its random status
        index was taken meanwhile (or the licence exists): `issue_licence` then, which draws
        again."""
        _check_type(spec)
        now = datetime.now(UTC)
        list_id = await self.store.status_list_with_room(now)
        licence = self._licence(holder_id, spec, licence_id, list_id, now)
        return licence, self.store.licence_write(licence)

    async def licence_issued(self, licence: Licence) -> None:
        """Count the status-list slot of a licence `licence_to_issue` wrote (committed)."""
        await self.store.count_status_slot(licence.status_list_id)

    def _licence(
        self,
        holder_id: ObjectId,
        spec: LicenceSpec,
        licence_id: ObjectId,
        list_id: str,
        now: datetime,
    ) -> Licence:
        return Licence(
            id=licence_id,
            holder_id=holder_id,
            type_code=spec.type_code,
            holder_name=spec.holder_name,
            number_cipher=self._encrypt(spec.number),
            id_number_cipher=self._encrypt(spec.id_number) if spec.id_number else None,
            issuer=spec.issuer,
            issuer_code=spec.issuer_code,
            valid_from=spec.valid_from,
            valid_until=spec.valid_until,
            status=LicenceStatus.VALID,
            status_list_id=list_id,
            status_index=secrets.randbelow(STATUS_LIST_SIZE),
            created_at=now,
            attributes=dict(spec.attributes),
        )

    async def issue_demo_licence(self, holder_id: ObjectId, spec: LicenceSpec) -> bool:
        """Issue unless the holder already has a licence of this type (idempotent seeding)."""
        if any(lic.type_code == spec.type_code for lic in await self.store.licences_of(holder_id)):
            return False
        await self.issue_licence(holder_id, spec)
        return True

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

    async def usage_records(
        self, viewer: Viewer, licence_gid: str, first: int | None, after: str | None
    ) -> Connection[UsageRecord]:
        try:
            licence = await self._licence_for(viewer, licence_gid, allow_delegate=False)
        except DomainError as exc:
            # A query has no userErrors: refuse like any other access failure.
            raise ForbiddenError("无权查看该证照的用证记录 (not your licence)") from exc
        return await self.store.usage_records(licence.id, first, after)

    # -- 亮证 -------------------------------------------------------------------------------

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

    # -- verification (spec §6) ---------------------------------------------------------------

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

    async def _record(
        self,
        viewer: Viewer,
        scene: str,
        outcome: Verification,
        licence: Licence | None,
        kid: str | None,
        cti: str | None,
        channel: str = "ONLINE",
    ) -> None:
        """The 用证记录, written before the answer leaves, the holder's event and notice."""
        org = await verifier_orgs.organization_of(viewer.user_id, self.auth.get_user)
        record = UsageRecord(
            id=ObjectId(),
            at=outcome.checked_at,
            licence_id=licence.id if licence else None,
            holder_id=licence.holder_id if licence else None,
            verifier_user_id=viewer.user_id,
            verifier_org_code=org.code if org else viewer.organization_code,
            verifier_org_name=org.name if org else None,
            scene=scene,
            result=outcome.result,
            token_id=cti,
            key_id=kid,
            fields_disclosed=outcome.disclosed,
            flagged=outcome.result.flagged,
            channel=channel,
        )
        if licence is None:
            await self.store.insert_usage_record(record)
            return
        # The holder's event (issue 6 turns these into inbox entries and pushes), the holder's
        # notification job and inbox copy are written with the record, atomically, in one
        # bulkWrite (one transaction: none of them is a retryable write of its own). A
        # notice of a capped category, or one whose preferences could not be read, has only its
        # job in there; its inbox copy follows the commit, or the worker writes it from the job.
        notice = self._holder_notice(licence, record)
        also: list[InsertOne[Document]] = []
        deliver = notice is not None
        if notice is not None:
            try:
                with_copy = await notice.with_copy()
            except PyMongoError:
                log.exception("could not read the holder's notification preferences")
                with_copy = None
            also = with_copy or [notice.outbox_write()]
            deliver = with_copy is None
        event = {
            "_id": ObjectId(),
            "holder_id": licence.holder_id,
            "licence_id": licence.id,
            "kind": "LICENCE_CHECK_FLAGGED" if record.flagged else "LICENCE_CHECKED",
            "at": record.at,
            "data": {
                "usage_record_id": record.id,
                "result": record.result.value,
                "scene": scene,
                "organization": record.verifier_org_name,
            },
            "delivered_at": None,
        }
        await self.store.insert_usage_record(record, event, also)
        if notice is not None and deliver:
            try:
                await notice.deliver()
            except Exception:  # committed job: the worker writes the inbox copy from it
                log.exception("could not write the inbox copy of a licence check notice")

    def _holder_notice(
        self, licence: Licence, record: UsageRecord
    ) -> notifications_service.Notice | None:
        """Every check reaches the holder (inbox, pushes); a failed or refused one as a warning.

        If the notice cannot even be prepared, the record is still written and the answer to
        the verifier still goes out; the failure is logged, never the verification lost.
        """
        kind = registry.licence_type(licence.type_code)
        checked_at = record.at.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M")
        data: dict[str, object] = {
            "licence_name": kind.name if kind else licence.type_code,
            "checked_at": checked_at,
            "licence_id": to_global_id("Licence", licence.id),
        }
        if record.result.value == "VALID":
            template = "LICENCE_CHECKED"
            data["verifier"] = record.verifier_org_name or record.verifier_org_code or "查验机构"
        else:
            template = "LICENCE_CHECK_REFUSED"
            data["reason"] = record.result.value
        try:
            return notifications_service.plan_notice(
                self.store.db,
                licence.holder_id,
                template,
                data,
                urgent=record.flagged,
                key=f"licence-check:{record.id}",
            )
        except Exception:  # the check itself must not fail because a notice could not be made
            log.exception("could not prepare the holder's notice of a licence check")
            return None

    # -- issuer actions ------------------------------------------------------------------------

    _TRANSITIONS: dict[str, tuple[tuple[LicenceStatus, ...], LicenceStatus]] = {  # noqa: RUF012
        "revoke": ((LicenceStatus.VALID, LicenceStatus.SUSPENDED), LicenceStatus.REVOKED),
        "suspend": ((LicenceStatus.VALID,), LicenceStatus.SUSPENDED),
        "reinstate": ((LicenceStatus.SUSPENDED,), LicenceStatus.VALID),
    }

    async def change_status(
        self, viewer: Viewer, licence_gid: str, action: str, reason: str
    ) -> Licence:
        """revoke / suspend / reinstate by the issuing organisation or an admin; effective
        online at once (verification reads the live status) and in the next status list."""
        licence_id = object_id_from_global(licence_gid, "Licence", field="licenceId")
        licence = await self.store.get_licence(licence_id)
        is_admin = viewer.has_role(Role.ADMIN)
        issuer_codes = {viewer.organization_code, viewer.department_code} - {None}
        if licence is None:
            if is_admin:
                raise LicenceNotFoundError()
            raise ForbiddenError()
        if not is_admin and licence.issuer_code not in issuer_codes:
            raise ForbiddenError("仅发证机关或管理员可变更证照状态 (issuer or admin only)")
        reason = text_input(reason, "reason", 200)
        sources, target = self._TRANSITIONS[action]
        now = datetime.now(UTC)
        changed = await self.store.transition(
            licence.id,
            sources,
            target,
            {"at": now, "by": viewer.user_id, "action": action, "reason": reason},
        )
        if changed is None:
            raise InvalidTransitionError(
                f"证照当前状态为 {licence.status.value}，不能{action} (invalid transition)"
            )
        await self._holder_event(
            changed, f"LICENCE_{target.value}", {"reason": reason, "action": action}
        )
        log.info("licence status changed", extra={"licence": str(licence.id), "to": target})
        return changed

    async def revoke_issued(
        self, licence_id: ObjectId, reason: str, actor_id: ObjectId | None
    ) -> Licence | None:
        """The issuing process withdraws a licence it delivered (申办's 撤销: 你失信、我撤销).

        The caller (申办) has authorised the act on its own case; effective online at once and
        in the next status list, like `change_status`. None if it was not VALID or SUSPENDED."""
        now = datetime.now(UTC)
        changed = await self.store.transition(
            licence_id,
            (LicenceStatus.VALID, LicenceStatus.SUSPENDED),
            LicenceStatus.REVOKED,
            {"at": now, "by": actor_id, "action": "revoke", "reason": reason[:200]},
        )
        if changed is not None:
            await self._holder_event(
                changed, "LICENCE_REVOKED", {"reason": reason[:200], "action": "revoke"}
            )
        return changed

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

    async def record_expiry_reminders(self, now: datetime) -> int:
        """Remind holders of licences expiring in 30 and 7 days, once each (any number of
        `zsb worker`s may run this: the event's dedupe key and the notice's key keep it single)."""
        today = today_in_china(now)
        recorded = 0
        for days in REMINDER_DAYS:
            day = (today + timedelta(days=days)).isoformat()
            for licence in await self.store.expiring_between(day, day):
                key = f"expiry:{licence.id}:{days}:{day}"
                if await self._holder_event(
                    licence,
                    "LICENCE_EXPIRY_REMINDER",
                    {"days": days, "valid_until": day},
                    dedupe_key=key,
                ):
                    recorded += 1
                kind = registry.licence_type(licence.type_code)
                await notifications_service.notify(
                    self.store.db,
                    licence.holder_id,
                    "LICENCE_EXPIRING",
                    {
                        "licence_name": kind.name if kind else licence.type_code,
                        "valid_until": day,
                        "licence_id": to_global_id("Licence", licence.id),
                    },
                    key=key,
                )
        return recorded

    # -- published material -------------------------------------------------------------------

    async def published_keys(self) -> dict[str, Any]:
        await self.keys.refresh_if_stale(self.store)
        return self.keys.jwks(datetime.now(UTC))

    async def status_list_ids(self) -> list[str]:
        return await self.store.status_list_ids()

    async def status_list_text(self, list_id: str) -> str | None:
        if len(list_id) > 32 or not await self.store.status_list_exists(list_id):
            return None
        entries = await self.store.non_valid_entries(list_id)
        array = status_list.build(entries, STATUS_LIST_SIZE)
        now = datetime.now(UTC)
        await self.keys.refresh_if_stale(self.store)
        iat = int(now.timestamp())
        payload = sdl1.StatusListPayload(
            ISSUING_PLATFORM,
            iat,
            iat + int(STATUS_LIST_LIFETIME.total_seconds()),
            status_list.BITS,
            status_list.compress(array),
        )
        return sdl1.encode_status_list(payload, self.keys.signing_key(now))


def _type_code(token_code: str) -> str | None:
    kind = registry.by_token_code(token_code)
    return kind.code if kind else None


def _check_type(spec: LicenceSpec) -> None:
    if registry.licence_type(spec.type_code) is None:
        raise InvalidInputError("未知的证照类型 (unknown licence type)", field="typeCode")
