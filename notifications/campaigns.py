"""Policy campaigns: an operator drafts, a second operator approves, workers send.

An FCM fan-out, once accepted, cannot be called back, so the check happens before any send:
preview shows the audience size, approval needs a different operator (four eyes), and cancel
stops whatever has not been sent yet.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.audit import AuditEvent, AuditLog
from app.db import Document
from app.errors import NotFoundError
from app.keyring import Keyring
from app.pagination import Connection
from auth.directory import phone_key_candidates
from auth.models import Role
from auth.permissions import Viewer
from electronic_cards.holders import is_known_type
from notifications.audience import AudienceReader
from notifications.campaign_store import CampaignStore
from notifications.errors import (
    EmptyAudienceError,
    FourEyesRequiredError,
    InvalidTargetError,
    InvalidTransitionError,
)
from notifications.models import Campaign, CampaignStats, CampaignStatus, Category, Target
from notifications.outbox_store import OutboxStore
from notifications.policy import Clock, SystemClock

MAX_TITLE = 40
MAX_BODY = 500
MAX_PHONES = 10_000
_REGION = re.compile(r"^\d{6}$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_DEEP_LINK = re.compile(r"^(zsb://|https://)[^\s]{1,500}$")


@dataclass(frozen=True, slots=True)
class CampaignDraft:
    title: str
    body: str
    deep_link: str | None
    category: Category
    target: Target
    scheduled_at: datetime | None = None


def validate_target(target: Target) -> Target:
    if target.is_empty:
        raise InvalidTargetError("请至少指定一个推送范围 (target is empty)", field="target")
    filters = target.region_codes or target.tags or target.phones or target.audience
    if target.all and (filters or target.licence_type_code):
        raise InvalidTargetError(
            "all 不能与其他条件同时使用 (all excludes filters)", field="target.all"
        )
    bad_regions = [r for r in target.region_codes if not _REGION.match(r)]
    if bad_regions:
        raise InvalidTargetError(
            f"行政区划代码不正确: {bad_regions[:3]}", field="target.regionCodes"
        )
    if len(target.phones) > MAX_PHONES:
        raise InvalidTargetError(f"号码名单最多 {MAX_PHONES} 个", field="target.phones")
    bad_phones = [p for p in target.phones if not _PHONE.match(p)]
    if bad_phones:
        raise InvalidTargetError("号码名单中有无效号码 (invalid phones)", field="target.phones")
    if target.licence_type_code is not None and not is_known_type(target.licence_type_code):
        raise InvalidTargetError(
            "证照类型代码不存在 (unknown licence type)", field="target.licenceTypeCode"
        )
    return target


@dataclass(frozen=True, slots=True)
class AudienceFigure:
    """A count as an operator may see it: a coarse band, exact only for a large filter-only
    target (review 3, finding 2; docs/notifications.md "Counts an operator sees").

    With the threshold m (`min_reported`, 10): below m "<10"; then "10–99", "100–999"; above
    that the count rounded to two significant figures ("≈1200"). A target with a phone list is
    never answered exactly, at any size: padding a list with numbers known to be registered
    would otherwise turn the answer into "is this one number registered" (11 or 10). A
    filter-only target is exact from 100·m (1000) up, where one person more or less is not
    what an operator can single out; below that it is banded like a list.
    """

    exact: int | None
    band: str

    @classmethod
    def of(cls, count: int, min_reported: int, *, listed: bool = False) -> AudienceFigure:
        if count < min_reported:
            return cls(None, f"<{min_reported}")
        if listed or count < EXACT_FROM * min_reported:
            return cls(None, coarse_band(count, min_reported))
        return cls(count, str(count))


EXACT_FROM = 100  # a filter-only count is exact from 100 × the threshold up


def coarse_band(count: int, min_reported: int) -> str:
    """The band of a count: decades from the threshold up, then two significant figures."""
    if count < min_reported:
        return f"<{min_reported}"
    low = min_reported
    for _ in range(2):  # [m, 10m) and [10m, 100m)
        if count < low * 10:
            return f"{low}–{low * 10 - 1}"
        low *= 10
    factor = 10 ** (len(str(count)) - 2)
    return f"≈{(count + factor // 2) // factor * factor}"


def target_fingerprint(target: Target) -> str:
    """What the audit log keeps of a target: a hash (phones are already blind indexes)."""
    canonical = json.dumps(target.to_document(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass
class CampaignService:
    db: AsyncDatabase[Document]
    keyring: Keyring
    clock: Clock = field(default_factory=SystemClock)
    min_reported: int = 10  # settings.campaign_min_reported

    def _checked(self, target: Target) -> Target:
        """Validated, with phones replaced by their blind indexes: campaigns keep no numbers."""
        target = validate_target(target)
        # Every key generation's index (one during normal operation): during a master-secret
        # rotation, people not yet resealed are matched by the older one.
        keys = phone_key_candidates(self.keyring, target.phones)
        return replace(target, phones=tuple(keys))  # deduplicated: a list and phones may overlap

    @property
    def store(self) -> CampaignStore:
        return CampaignStore(self.db)

    @property
    def jobs(self) -> OutboxStore:
        return OutboxStore(self.db)

    async def preview(self, viewer: Viewer, target: Target) -> AudienceFigure:
        """The audience size as `AudienceFigure` allows; every preview is audited (who, a hash
        of the target, the answer given), so probing a list number by number shows."""
        viewer.require_role(Role.OPERATOR)
        checked = self._checked(target)
        count = await AudienceReader(self.db, self.clock).count(checked)
        figure = AudienceFigure.of(count, self.min_reported, listed=bool(checked.phones))
        await AuditLog(self.db).record(
            AuditEvent(
                "notifications.campaign.preview",
                viewer.user_id,
                tuple(sorted(r.value for r in viewer.roles)),
                details={
                    "target": target_fingerprint(checked),
                    "phones": len(set(target.phones)),
                    "result": figure.band,
                },
            )
        )
        return figure

    async def create(self, viewer: Viewer, draft: CampaignDraft) -> Campaign:
        viewer.require_role(Role.OPERATOR)
        title, body = draft.title.strip(), draft.body.strip()
        if not 1 <= len(title) <= MAX_TITLE:
            raise InvalidTargetError(f"标题须为 1-{MAX_TITLE} 个字符", field="title")
        if not 1 <= len(body) <= MAX_BODY:
            raise InvalidTargetError(f"正文须为 1-{MAX_BODY} 个字符", field="body")
        if draft.deep_link is not None and not _DEEP_LINK.match(draft.deep_link):
            raise InvalidTargetError("链接须以 zsb:// 或 https:// 开头", field="deepLink")
        target = self._checked(draft.target)
        now = self.clock.now()
        scheduled = draft.scheduled_at
        if scheduled is not None:
            scheduled = scheduled if scheduled.tzinfo else scheduled.replace(tzinfo=UTC)
            if scheduled < now - timedelta(minutes=5):
                raise InvalidTargetError(
                    "计划时间已过 (scheduledAt is in the past)", field="scheduledAt"
                )
        # With a phone list, "matches nobody" would tell whether those numbers are registered
        # (the preview only says "<10"): such a campaign is accepted and reaches whoever matches.
        audience = await AudienceReader(self.db, self.clock).count(target)
        if not target.phones and audience == 0:
            raise EmptyAudienceError()
        return await self.store.insert_campaign(
            {
                "_id": ObjectId(),
                "title": title,
                "body": body,
                "deep_link": draft.deep_link,
                "category": draft.category.value,
                "target": target.to_document(),
                "scheduled_at": scheduled,
                "status": CampaignStatus.PENDING_APPROVAL.value,
                "created_by": viewer.user_id,
                "created_at": now,
                "urgent": False,  # policy pushes never bypass quiet hours
                "targeted": 0,
                "opened": 0,
                "audience": audience,
                "planned": False,
                "plan_seq": None,
                "plan_cursor": None,
                "plan_owner": None,
                "plan_lease_until": None,
            }
        )

    async def get(self, viewer: Viewer, campaign_id: ObjectId) -> Campaign:
        viewer.require_role(Role.OPERATOR)
        campaign = await self.store.get_campaign(campaign_id)
        if campaign is None:
            raise NotFoundError("推送不存在 (no such campaign)", field="campaignId")
        return campaign

    async def list_campaigns(
        self,
        viewer: Viewer,
        status: CampaignStatus | None,
        first: int | None,
        after: str | None,
    ) -> Connection[Campaign]:
        """Operators see every campaign: approving others' is their job (four eyes)."""
        viewer.require_role(Role.OPERATOR)
        return await self.store.list_campaigns(status.value if status else None, first, after)

    async def approve(self, viewer: Viewer, campaign_id: ObjectId) -> Campaign:
        campaign = await self.get(viewer, campaign_id)
        if campaign.created_by == viewer.user_id:
            raise FourEyesRequiredError()
        approved = await self.store.transition_campaign(
            campaign_id,
            # Guard in the filter: a second approval (or one racing it) matches nothing.
            {
                "status": CampaignStatus.PENDING_APPROVAL.value,
                "created_by": {"$ne": viewer.user_id},
            },
            {
                "status": CampaignStatus.APPROVED.value,
                "approved_by": viewer.user_id,
                "approved_at": self.clock.now(),
            },
        )
        if approved is None:
            raise InvalidTransitionError(
                f"推送当前状态为 {campaign.status.value}，不能审批 (not awaiting approval)"
            )
        return approved

    async def cancel(self, viewer: Viewer, campaign_id: ObjectId) -> Campaign:
        campaign = await self.get(viewer, campaign_id)
        live = [
            CampaignStatus.PENDING_APPROVAL.value,
            CampaignStatus.APPROVED.value,
            CampaignStatus.SENDING.value,
        ]
        cancelled = await self.store.transition_campaign(
            campaign_id,
            {"status": {"$in": live}},
            {"status": CampaignStatus.CANCELLED.value, "cancelled_at": self.clock.now()},
        )
        if cancelled is None:
            raise InvalidTransitionError(
                f"推送当前状态为 {campaign.status.value}，不能取消 (already finished)"
            )
        await self.jobs.cancel_jobs(campaign_id, self.clock.now())
        return cancelled

    def withheld_band(self, campaign: Campaign, stats: CampaignStats) -> str | None:
        """The band shown instead of the figures, or None when they may be shown.

        Before planning (pending approval, approved) the figures are zeros and what they would
        tell is the audience counted at drafting: answered exactly as a preview is, so a draft
        is no way round the preview's bands. After that, figures of a campaign that reached
        fewer than `min_reported` people are a band: per-person figures (opened, failed) of a
        tiny audience describe individuals."""
        if campaign.status in (CampaignStatus.PENDING_APPROVAL, CampaignStatus.APPROVED):
            listed = bool(campaign.target.phones)
            figure = AudienceFigure.of(campaign.audience, self.min_reported, listed=listed)
            return None if figure.exact is not None else figure.band
        if max(campaign.audience, campaign.targeted, stats.inboxed) < self.min_reported:
            return f"<{self.min_reported}"
        return None

    async def stats(self, campaign: Campaign) -> CampaignStats:
        # A finished campaign answers from its snapshot: its jobs may have expired already.
        totals = campaign.final_totals
        if totals is None:
            totals = await self.jobs.campaign_job_totals(campaign.id)
        return CampaignStats(
            targeted=campaign.targeted,
            queued=totals.get("queued", 0),
            inboxed=totals.get("inboxed", 0),
            sent=totals.get("sent", 0),
            failed=totals.get("failed", 0),
            suppressed=totals.get("suppressed", 0),
            opened=campaign.opened,
        )
