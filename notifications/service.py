"""The notification rules: devices, the inbox, preferences, and `notify` for other domains.

Other domains send through one call::

    from notifications import service as notifications_service

    await notifications_service.notify(
        db, user_id, "APPLICATION_STATUS_CHANGED",
        {"matter_name": …, "receipt_number": …, "status": "已受理", "application_id": …},
        key=f"application:{application_id}:ACCEPTED",   # natural key: a retry sends nothing twice
    )

It renders the template (missing data raises `MissingDataError`; nothing is written), puts a push
job in the outbox and writes the inbox copy, which the `inboxEvents` subscription announces.
The push itself goes out from `zsb worker`, after quiet hours unless `urgent`.

A domain that writes in a transaction of its own can add the notice to it instead:
`plan_notice(...)` (same arguments) returns a `Notice` whose `outbox_write()` goes into the
caller's `client.bulk_write`, and whose `deliver()` writes the inbox copy after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from app.errors import DomainError, NotFoundError
from app.pagination import Connection
from auth.permissions import Viewer
from notifications import planned
from notifications.campaign_store import CampaignStore
from notifications.errors import InvalidTokenError
from notifications.models import Category, Device, InboxMessage, Platform, Provider
from notifications.outbox_store import OutboxStore
from notifications.planned import Notice
from notifications.planned import plan as plan_notice
from notifications.policy import (
    Clock,
    SystemClock,
)
from notifications.store import NotificationStore
from notifications.wechat_store import WechatGrantStore

__all__ = ["DeviceSpec", "Notice", "NotificationService", "notify", "plan_notice"]

# FCM registration tokens are ~150-200 characters of [A-Za-z0-9_:-]; WeChat openids are 28.
_TOKEN_PATTERNS = {
    Provider.FCM: re.compile(r"^[A-Za-z0-9_:\-.]{16,4096}$"),
    Provider.WECHAT_MINIPROGRAM: re.compile(r"^[A-Za-z0-9_\-]{16,64}$"),
}

_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    provider: Provider
    token: str
    platform: Platform
    app_version: str | None = None
    locale: str | None = None


@dataclass
class NotificationService:
    db: AsyncDatabase[Document]
    clock: Clock = field(default_factory=SystemClock)

    @property
    def store(self) -> NotificationStore:
        return NotificationStore(self.db)

    # -- devices -------------------------------------------------------------------------

    async def register_device(self, viewer: Viewer, spec: DeviceSpec) -> Device:
        token = spec.token.strip()
        if not _TOKEN_PATTERNS[spec.provider].match(token):
            raise InvalidTokenError()
        return await self.store.upsert_device(
            {
                "provider": spec.provider.value,
                "token": token,
                "user_id": viewer.user_id,
                "platform": spec.platform.value,
                "app_version": (spec.app_version or "")[:32] or None,
                "locale": (spec.locale or "")[:16] or None,
            },
            self.clock.now(),
        )

    async def unregister_device(self, viewer: Viewer, device_id: ObjectId) -> None:
        if not await self.store.delete_device(device_id, viewer.user_id):
            raise NotFoundError("设备不存在 (no such device)", field="deviceId")

    async def record_subscribe_grants(
        self, viewer: Viewer, device_id: ObjectId, template_ids: list[str], long_term: bool
    ) -> int:
        """What `wx.requestSubscribeMessage` returned as accepted (≤ 3 templates per tap)."""
        device = await self.store.get_device(device_id, viewer.user_id)
        if device is None or device.provider is not Provider.WECHAT_MINIPROGRAM:
            raise NotFoundError("小程序设备不存在 (no such mini-program device)", field="deviceId")
        if not 1 <= len(template_ids) <= 3 or not all(_TEMPLATE_ID.match(t) for t in template_ids):
            raise DomainError(
                "订阅模板须为 1-3 个有效模板 ID (1-3 template ids)",
                code="INVALID_TEMPLATE_IDS",
                field="templateIds",
            )
        await WechatGrantStore(self.db).add_wechat_grants(
            device.token, template_ids, long_term, self.clock.now()
        )
        return len(template_ids)

    async def my_devices(self, viewer: Viewer) -> list[Device]:
        return await self.store.user_devices(viewer.user_id)

    # -- inbox ---------------------------------------------------------------------------

    async def inbox(
        self, viewer: Viewer, first: int | None, after: str | None, unread_only: bool
    ) -> Connection[InboxMessage]:
        return await self.store.inbox_page(viewer.user_id, first, after, unread_only)

    async def unread_count(self, viewer: Viewer) -> int:
        return await self.store.unread_count(viewer.user_id)

    async def _own_message(self, viewer: Viewer, message_id: ObjectId) -> InboxMessage:
        # Someone else's message is "not found", never "forbidden": ids reveal nothing.
        message = await self.store.get_inbox_message(message_id, viewer.user_id)
        if message is None:
            raise NotFoundError("消息不存在 (no such notification)", field="notificationId")
        return message

    async def mark_read(self, viewer: Viewer, message_id: ObjectId) -> InboxMessage:
        await self._own_message(viewer, message_id)
        await self.store.mark_read(message_id, viewer.user_id, self.clock.now())
        return await self._own_message(viewer, message_id)

    async def mark_all_read(self, viewer: Viewer) -> int:
        return await self.store.mark_all_read(viewer.user_id, self.clock.now())

    async def mark_opened(self, viewer: Viewer, message_id: ObjectId) -> InboxMessage:
        await self._own_message(viewer, message_id)
        opened = await self.store.mark_opened(message_id, viewer.user_id, self.clock.now())
        if opened is not None and opened.campaign_id is not None:
            await CampaignStore(self.db).inc_campaign_opened(opened.campaign_id)
        return await self._own_message(viewer, message_id)

    # -- preferences ---------------------------------------------------------------------

    async def opted_out(self, viewer: Viewer) -> list[Category]:
        return [Category(c) for c in await self.store.opted_out(viewer.user_id)]

    async def set_opted_out(self, viewer: Viewer, categories: list[Category]) -> list[Category]:
        unique = sorted({c.value for c in categories})
        await self.store.set_opted_out(viewer.user_id, unique, self.clock.now())
        return [Category(c) for c in unique]

    # -- notify --------------------------------------------------------------------------

    async def notify(
        self,
        user_id: ObjectId,
        template: str,
        data: Mapping[str, object],
        *,
        category: Category | None = None,
        urgent: bool = False,
        key: str | None = None,
    ) -> InboxMessage | None:
        notice = planned.plan(
            self.db, user_id, template, data, category=category, urgent=urgent, key=key,
            clock=self.clock,
        )  # fmt: skip
        # The job first: if this process dies before the inbox write, the worker writes the
        # inbox copy from the job, so nothing is lost between the two writes.
        await OutboxStore(self.db).insert_job(notice.job)
        return await notice.deliver()


async def notify(
    db: AsyncDatabase[Document],
    user_id: ObjectId,
    template: str,
    data: Mapping[str, object],
    *,
    category: Category | None = None,
    urgent: bool = False,
    key: str | None = None,
    clock: Clock | None = None,
) -> InboxMessage | None:
    """Tell one user something through every channel they use; the entry point for domains.

    Returns the inbox copy, or None when the user's account is gone or being erased: nothing
    is written for an erased person, whichever domain asks.

    - `template`: a code from `notifications.templates.TEMPLATES`; `data` fills its fields.
      Unknown template → `UnknownTemplateError`; a missing field → `MissingDataError`.
    - `category`: defaults to the template's; the user's opt-out for it keeps the push back
      (the inbox copy is always written).
    - `urgent`: push even in quiet hours (a refused licence check, a deadline today).
    - `key`: a natural idempotency key such as ``application:<id>:ACCEPTED``; calling again
      with the same key returns the first message and sends nothing more.
    """
    service = NotificationService(db, clock or SystemClock())
    return await service.notify(user_id, template, data, category=category, urgent=urgent, key=key)
