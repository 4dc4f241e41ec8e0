"""Devices, inbox messages, preferences and campaigns as they live in MongoDB."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId

from app.vocabulary import Audience as Audience  # re-exported: part of this model


class Provider(StrEnum):
    FCM = "FCM"
    WECHAT_MINIPROGRAM = "WECHAT_MINIPROGRAM"


class Platform(StrEnum):
    ANDROID = "ANDROID"
    IOS = "IOS"
    HARMONYOS = "HARMONYOS"
    MINIPROGRAM = "MINIPROGRAM"


class Category(StrEnum):
    """Two vendor classes underneath: POLICY is "marketing" (capped), the rest are service."""

    POLICY = "POLICY"
    APPLICATION_STATUS = "APPLICATION_STATUS"
    LICENCE = "LICENCE"
    REMINDER = "REMINDER"
    SYSTEM = "SYSTEM"


class CampaignStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"  # waiting for its scheduled time / a worker to plan it
    SENDING = "SENDING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Device:
    id: ObjectId
    user_id: ObjectId
    provider: Provider
    token: str
    platform: Platform
    app_version: str | None
    locale: str | None
    enabled: bool
    created_at: datetime
    last_seen_at: datetime
    disabled_reason: str | None = None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Device:
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            provider=Provider(doc["provider"]),
            token=doc["token"],
            platform=Platform(doc["platform"]),
            app_version=doc.get("app_version"),
            locale=doc.get("locale"),
            enabled=bool(doc.get("enabled", True)),
            created_at=doc["created_at"],
            last_seen_at=doc["last_seen_at"],
            disabled_reason=doc.get("disabled_reason"),
        )


@dataclass(frozen=True, slots=True)
class InboxMessage:
    id: ObjectId
    user_id: ObjectId
    source: str  # what produced it: "notify:<job>" or "campaign:<id>"; unique per user
    title: str
    body: str
    category: Category
    deep_link: str | None
    created_at: datetime
    expires_at: datetime | None
    read_at: datetime | None = None
    opened_at: datetime | None = None
    push: bool = True  # False: inbox only (quiet category, opt-out or frequency cap)
    campaign_id: ObjectId | None = None
    # "<Qingdao day>#<n>" on the n-th capped (POLICY) push of that day; a unique partial index
    # on (user_id, push_slot) makes the daily cap atomic across workers.
    push_slot: str | None = None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> InboxMessage:
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            source=doc["source"],
            title=doc["title"],
            body=doc["body"],
            category=Category(doc["category"]),
            deep_link=doc.get("deep_link"),
            created_at=doc["created_at"],
            expires_at=doc.get("expires_at"),
            read_at=doc.get("read_at"),
            opened_at=doc.get("opened_at"),
            push=bool(doc.get("push", True)),
            campaign_id=doc.get("campaign_id"),
            push_slot=doc.get("push_slot"),
        )

    def to_document(self) -> dict[str, Any]:
        doc = {
            "_id": self.id,
            "user_id": self.user_id,
            "source": self.source,
            "title": self.title,
            "body": self.body,
            "category": self.category.value,
            "deep_link": self.deep_link,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "read_at": self.read_at,
            "opened_at": self.opened_at,
            "push": self.push,
            "campaign_id": self.campaign_id,
        }
        if self.push_slot is not None:  # absent, not null: the partial index skips the rest
            doc["push_slot"] = self.push_slot
        return doc


@dataclass(frozen=True, slots=True)
class Target:
    """Who a campaign reaches: every given criterion must hold (an AND of the parts)."""

    all: bool = False
    region_codes: tuple[str, ...] = ()
    audience: Audience | None = None
    tags: tuple[str, ...] = ()
    licence_type_code: str | None = None
    # As submitted: phone numbers; once CampaignService has checked them: their blind indexes.
    phones: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.all
            or self.region_codes
            or self.audience
            or self.tags
            or self.licence_type_code
            or self.phones
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "all": self.all,
            "region_codes": list(self.region_codes),
            "audience": self.audience.value if self.audience else None,
            "tags": list(self.tags),
            "licence_type_code": self.licence_type_code,
            "phones": list(self.phones),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Target:
        return cls(
            all=bool(doc.get("all")),
            region_codes=tuple(doc.get("region_codes", ())),
            audience=Audience(doc["audience"]) if doc.get("audience") else None,
            tags=tuple(doc.get("tags", ())),
            licence_type_code=doc.get("licence_type_code"),
            phones=tuple(doc.get("phones", ())),
        )


@dataclass(frozen=True, slots=True)
class CampaignStats:
    targeted: int = 0  # recipients (users) the target matched
    queued: int = 0  # recipients whose chunk is not finished yet
    inboxed: int = 0  # inbox copies written
    sent: int = 0  # pushes a provider accepted
    failed: int = 0  # pushes that failed for good (bad token, invalid, gave up)
    suppressed: int = 0  # recipients held back from push: opt-out or frequency cap
    opened: int = 0  # inbox copies opened


@dataclass(frozen=True, slots=True)
class Campaign:
    id: ObjectId
    title: str
    body: str
    deep_link: str | None
    category: Category
    target: Target
    scheduled_at: datetime | None
    status: CampaignStatus
    created_by: ObjectId
    created_at: datetime
    approved_by: ObjectId | None = None
    approved_at: datetime | None = None
    cancelled_at: datetime | None = None
    finished_at: datetime | None = None
    urgent: bool = False
    targeted: int = 0
    opened: int = 0
    audience: int = 0  # the target's size when drafted (decides banding before planning)
    # The job totals when the campaign finished: its jobs expire (outbox retention), its
    # statistics must not.
    final_totals: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Campaign:
        return cls(
            id=doc["_id"],
            title=doc["title"],
            body=doc["body"],
            deep_link=doc.get("deep_link"),
            category=Category(doc["category"]),
            target=Target.from_document(doc.get("target", {})),
            scheduled_at=doc.get("scheduled_at"),
            status=CampaignStatus(doc["status"]),
            created_by=doc["created_by"],
            created_at=doc["created_at"],
            approved_by=doc.get("approved_by"),
            approved_at=doc.get("approved_at"),
            cancelled_at=doc.get("cancelled_at"),
            finished_at=doc.get("finished_at"),
            urgent=bool(doc.get("urgent", False)),
            targeted=int(doc.get("targeted", 0)),
            opened=int(doc.get("opened", 0)),
            audience=int(doc.get("audience", 0)),
            final_totals=doc.get("final_totals"),
        )
