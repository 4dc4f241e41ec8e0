"""Licences, their use (用证记录), grants (授权用证), delegations (委托用证) and tickets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId


class LicenceStatus(StrEnum):
    VALID = "VALID"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # never stored: derived from valid_until


class QrMode(StrEnum):
    ONLINE = "ONLINE"  # the token carries an opaque handle; the server answers
    OFFLINE = "OFFLINE"  # the token carries masked face data and a status-list index


class VerificationResult(StrEnum):
    """Spec §6 result codes, in the order the checks run."""

    MALFORMED = "MALFORMED"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRED = "EXPIRED"
    NOT_AUTHORISED = "NOT_AUTHORISED"
    REPLAYED = "REPLAYED"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    VALID = "VALID"

    @property
    def flagged(self) -> bool:
        """Spec §6: a REPLAYED or NOT_AUTHORISED attempt is flagged to the holder."""
        return self in (VerificationResult.REPLAYED, VerificationResult.NOT_AUTHORISED)


CHINA = ZoneInfo("Asia/Shanghai")


def today_in_china(now: datetime) -> date:
    return now.astimezone(CHINA).date()


@dataclass(frozen=True, slots=True)
class Verification:
    result: VerificationResult
    checked_at: datetime
    type_code: str | None = None
    fields: dict[str, str | None] = field(default_factory=dict)  # disclosed, already masked

    @property
    def disclosed(self) -> tuple[str, ...]:
        return tuple(self.fields)


def _date(value: Any) -> date | None:
    # Dates as ISO strings: BSON has no date-only type (same choice as auth's birth dates).
    return date.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Licence:
    id: ObjectId
    holder_id: ObjectId
    type_code: str
    holder_name: str
    number_cipher: bytes  # AES-GCM: licence numbers are personal data at rest
    id_number_cipher: bytes | None
    issuer: str  # the issuing authority's name as printed (发证机关)
    issuer_code: str  # the issuing organisation's code: its accounts may revoke/suspend
    valid_from: date
    valid_until: date | None  # None: 长期 (no expiry)
    status: LicenceStatus  # VALID, SUSPENDED or REVOKED as stored
    status_list_id: str
    status_index: int
    created_at: datetime
    attributes: dict[str, str] = field(default_factory=dict)

    def effective_status(self, today: date) -> LicenceStatus:
        if self.status is not LicenceStatus.VALID:
            return self.status
        if self.valid_until is not None and self.valid_until < today:
            return LicenceStatus.EXPIRED
        return LicenceStatus.VALID

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Licence:
        valid_from = date.fromisoformat(doc["valid_from"])
        return cls(
            id=doc["_id"],
            holder_id=doc["holder_id"],
            type_code=doc["type_code"],
            holder_name=doc["holder_name"],
            number_cipher=doc["number_cipher"],
            id_number_cipher=doc.get("id_number_cipher"),
            issuer=doc["issuer"],
            issuer_code=doc["issuer_code"],
            valid_from=valid_from,
            valid_until=_date(doc.get("valid_until")),
            status=LicenceStatus(doc["status"]),
            status_list_id=doc["status_list_id"],
            status_index=doc["status_index"],
            created_at=doc["created_at"],
            attributes=dict(doc.get("attributes") or {}),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "holder_id": self.holder_id,
            "type_code": self.type_code,
            "holder_name": self.holder_name,
            "number_cipher": self.number_cipher,
            "id_number_cipher": self.id_number_cipher,
            "issuer": self.issuer,
            "issuer_code": self.issuer_code,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "status": self.status.value,
            "status_list_id": self.status_list_id,
            "status_index": self.status_index,
            "created_at": self.created_at,
            "attributes": self.attributes,
        }


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One verification attempt (用证记录): append-only, names of fields but never values."""

    id: ObjectId
    at: datetime
    licence_id: ObjectId | None  # None when the token could not be trusted to name one
    holder_id: ObjectId | None
    verifier_user_id: ObjectId
    verifier_org_code: str | None
    verifier_org_name: str | None
    scene: str
    result: VerificationResult
    token_id: str | None  # cti, hex
    key_id: str | None  # kid, hex
    fields_disclosed: tuple[str, ...]
    flagged: bool
    channel: str  # ONLINE, or GRANT for an authorised full-data fetch

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> UsageRecord:
        return cls(
            id=doc["_id"],
            at=doc["at"],
            licence_id=doc.get("licence_id"),
            holder_id=doc.get("holder_id"),
            verifier_user_id=doc["verifier_user_id"],
            verifier_org_code=doc.get("verifier_org_code"),
            verifier_org_name=doc.get("verifier_org_name"),
            scene=doc["scene"],
            result=VerificationResult(doc["result"]),
            token_id=doc.get("token_id"),
            key_id=doc.get("key_id"),
            fields_disclosed=tuple(doc.get("fields_disclosed", ())),
            flagged=bool(doc.get("flagged")),
            channel=doc.get("channel", "ONLINE"),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "at": self.at,
            "licence_id": self.licence_id,
            "holder_id": self.holder_id,
            "verifier_user_id": self.verifier_user_id,
            "verifier_org_code": self.verifier_org_code,
            "verifier_org_name": self.verifier_org_name,
            "scene": self.scene,
            "result": self.result.value,
            "token_id": self.token_id,
            "key_id": self.key_id,
            "fields_disclosed": list(self.fields_disclosed),
            "flagged": self.flagged,
            "channel": self.channel,
        }


@dataclass(frozen=True, slots=True)
class Grant:
    """授权用证: an organisation may fetch the full licence data for a purpose until expiry."""

    id: ObjectId
    licence_id: ObjectId
    holder_id: ObjectId
    organization_code: str
    purpose: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Grant:
        return cls(
            id=doc["_id"],
            licence_id=doc["licence_id"],
            holder_id=doc["holder_id"],
            organization_code=doc["organization_code"],
            purpose=doc["purpose"],
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
            revoked_at=doc.get("revoked_at"),
        )


@dataclass(frozen=True, slots=True)
class Delegation:
    """委托用证: another person may show (亮证) the licence for the holder until expiry."""

    id: ObjectId
    licence_id: ObjectId
    holder_id: ObjectId
    delegate_id: ObjectId
    purpose: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Delegation:
        return cls(
            id=doc["_id"],
            licence_id=doc["licence_id"],
            holder_id=doc["holder_id"],
            delegate_id=doc["delegate_id"],
            purpose=doc["purpose"],
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
            revoked_at=doc.get("revoked_at"),
        )


@dataclass(frozen=True, slots=True)
class CorrectionTicket:
    """数据纠错: a holder's report that the licence data is wrong, for the issuer to fix."""

    id: ObjectId
    licence_id: ObjectId
    holder_id: ObjectId
    issuer_code: str
    description: str
    status: str  # OPEN → (issuer) RESOLVED / REJECTED
    created_at: datetime

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CorrectionTicket:
        return cls(
            id=doc["_id"],
            licence_id=doc["licence_id"],
            holder_id=doc["holder_id"],
            issuer_code=doc["issuer_code"],
            description=doc["description"],
            status=doc["status"],
            created_at=doc["created_at"],
        )
