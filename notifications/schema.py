"""GraphQL types, queries, mutations and the inbox subscription: thin calls into the services."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.tools import merge_types
from strawberry.types import Info

from app.api_types import UserError, run_mutation
from app.context import Context
from app.ids import object_id_from_global, to_global_id
from app.pagination import Connection, Edge, PageInfo
from notifications import enums as _enums  # noqa: F401 - registers the GraphQL enums
from notifications import models
from notifications.campaign_schema import CampaignMutation, CampaignQuery
from notifications.service import DeviceSpec, NotificationService


def _svc(info: Info[Context, None]) -> NotificationService:
    return NotificationService(info.context.state.db)


@strawberry.type(description="One app installation or mini-program account that gets pushes.")
class Device:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    provider: models.Provider = strawberry.field(description="The push channel.")
    platform: models.Platform = strawberry.field(description="The operating system.")
    app_version: str | None = strawberry.field(description="The app version that registered.")
    locale: str | None = strawberry.field(description="The device's language, e.g. zh-CN.")
    enabled: bool = strawberry.field(
        description="False once the provider said the token is dead (it is then never used)."
    )
    last_seen_at: datetime = strawberry.field(description="When it last registered.")

    @classmethod
    def of(cls, d: models.Device) -> Device:
        return cls(
            id=strawberry.ID(to_global_id("Device", d.id)),
            provider=d.provider,
            platform=d.platform,
            app_version=d.app_version,
            locale=d.locale,
            enabled=d.enabled,
            last_seen_at=d.last_seen_at,
        )


@strawberry.type(description="A message in the user's in-app inbox (站内信).")
class Notification:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    title: str = strawberry.field(description="Short title.")
    body: str = strawberry.field(description="The message text.")
    category: models.Category = strawberry.field(description="What it is about.")
    deep_link: str | None = strawberry.field(
        description="Where the app opens: zsb://applications/…, zsb://licences/…, a policy page."
    )
    created_at: datetime = strawberry.field(description="When it was written.")
    read_at: datetime | None = strawberry.field(description="When it was read; null if unread.")
    opened_at: datetime | None = strawberry.field(description="When its link was first opened.")
    expires_at: datetime | None = strawberry.field(description="When it leaves the inbox.")

    @classmethod
    def of(cls, m: models.InboxMessage) -> Notification:
        return cls(
            id=strawberry.ID(to_global_id("Notification", m.id)),
            title=m.title,
            body=m.body,
            category=m.category,
            deep_link=m.deep_link,
            created_at=m.created_at,
            read_at=m.read_at,
            opened_at=m.opened_at,
            expires_at=m.expires_at,
        )


# -- inputs and payloads -----------------------------------------------------------------


@strawberry.input(description="Register this installation for pushes (idempotent).")
class RegisterDeviceInput:
    provider: models.Provider = strawberry.field(description="The push channel.")
    token: str = strawberry.field(description="FCM registration token or WeChat openid.")
    platform: models.Platform = strawberry.field(description="The operating system.")
    app_version: str | None = strawberry.field(default=None, description="App version.")
    locale: str | None = strawberry.field(default=None, description="Language, e.g. zh-CN.")


@strawberry.type(description="Result of registerDevice.")
class RegisterDevicePayload:
    device: Device | None = strawberry.field(default=None, description="The registration.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="INVALID_DEVICE_TOKEN."
    )


@strawberry.input(description="Stop pushes to one of my devices.")
class UnregisterDeviceInput:
    device_id: strawberry.ID = strawberry.field(description="The device's id.")


@strawberry.type(description="Result of unregisterDevice.")
class UnregisterDevicePayload:
    ok: bool = strawberry.field(default=False, description="True when it was removed.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="NOT_FOUND.")


@strawberry.input(description="One of my inbox messages.")
class NotificationInput:
    notification_id: strawberry.ID = strawberry.field(description="The message's id.")


@strawberry.input(description="Mark one of my messages read.")
class MarkNotificationReadInput(NotificationInput):
    pass


@strawberry.input(description="Record that I opened one of my messages.")
class MarkNotificationOpenedInput(NotificationInput):
    pass


@strawberry.type(description="Result of markNotificationRead / markNotificationOpened.")
class NotificationPayload:
    notification: Notification | None = strawberry.field(
        default=None, description="The message as it is now."
    )
    unread_count: int | None = strawberry.field(
        default=None, description="Unread messages left in the inbox."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="NOT_FOUND.")


@strawberry.type(description="Result of markNotificationRead.")
class MarkNotificationReadPayload(NotificationPayload):
    pass


@strawberry.type(description="Result of markNotificationOpened.")
class MarkNotificationOpenedPayload(NotificationPayload):
    pass


@strawberry.input(description="Consents the mini-program got from wx.requestSubscribeMessage.")
class RecordSubscribeGrantInput:
    device_id: strawberry.ID = strawberry.field(description="My WECHAT_MINIPROGRAM device.")
    template_ids: list[str] = strawberry.field(description="Accepted template ids (1-3).")
    long_term: bool = strawberry.field(
        default=False,
        description="Long-term subscription (政务民生 templates) instead of one-time.",
    )


@strawberry.type(description="Result of recordSubscribeGrant.")
class RecordSubscribeGrantPayload:
    recorded: int = strawberry.field(default=0, description="Templates recorded.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND, INVALID_TEMPLATE_IDS."
    )


@strawberry.input(description="Mark every message of my inbox read.")
class MarkAllNotificationsReadInput:
    confirm: bool = strawberry.field(default=True, description="Kept for the input convention.")


@strawberry.type(description="Result of markAllNotificationsRead.")
class MarkAllNotificationsReadPayload:
    marked: int = strawberry.field(default=0, description="How many messages were unread.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Always empty."
    )


@strawberry.input(description="Which categories may push to me (the inbox always keeps a copy).")
class SetNotificationPreferencesInput:
    opted_out_categories: list[models.Category] = strawberry.field(
        description="Categories whose pushes I do not want."
    )


@strawberry.type(description="My notification preferences.")
class NotificationPreferences:
    opted_out_categories: list[models.Category] = strawberry.field(
        description="Categories that reach the inbox only, without a push."
    )


@strawberry.type(description="Result of setNotificationPreferences.")
class SetNotificationPreferencesPayload:
    preferences: NotificationPreferences | None = strawberry.field(
        default=None, description="The preferences now in force."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Always empty."
    )


def _page(conn: Connection[models.InboxMessage]) -> Connection[Notification]:
    return Connection(
        edges=[Edge(node=Notification.of(e.node), cursor=e.cursor) for e in conn.edges],
        page_info=PageInfo(
            has_next_page=conn.page_info.has_next_page, end_cursor=conn.page_info.end_cursor
        ),
    )


@strawberry.type
class InboxQuery:
    @strawberry.field(description="My inbox, newest first. Requires sign-in.")
    async def inbox(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[Notification]:
        viewer = info.context.require_viewer()
        return _page(await _svc(info).inbox(viewer, first, after, unread_only))

    @strawberry.field(description="How many of my inbox messages are unread.")
    async def unread_notification_count(self, info: Info[Context, None]) -> int:
        return await _svc(info).unread_count(info.context.require_viewer())

    @strawberry.field(description="My registered devices.")
    async def my_devices(self, info: Info[Context, None]) -> list[Device]:
        devices = await _svc(info).my_devices(info.context.require_viewer())
        return [Device.of(d) for d in devices]

    @strawberry.field(description="My notification preferences.")
    async def notification_preferences(self, info: Info[Context, None]) -> NotificationPreferences:
        opted = await _svc(info).opted_out(info.context.require_viewer())
        return NotificationPreferences(opted_out_categories=opted)


@strawberry.type
class InboxMutation:
    @strawberry.mutation(description="Register (or move to me) a push token.")
    async def register_device(
        self, info: Info[Context, None], input: RegisterDeviceInput
    ) -> RegisterDevicePayload:
        viewer = info.context.require_viewer()

        async def act() -> RegisterDevicePayload:
            spec = DeviceSpec(
                input.provider, input.token, input.platform, input.app_version, input.locale
            )
            return RegisterDevicePayload(
                device=Device.of(await _svc(info).register_device(viewer, spec))
            )

        return await run_mutation(RegisterDevicePayload, act)

    @strawberry.mutation(description="Remove one of my devices.")
    async def unregister_device(
        self, info: Info[Context, None], input: UnregisterDeviceInput
    ) -> UnregisterDevicePayload:
        viewer = info.context.require_viewer()

        async def act() -> UnregisterDevicePayload:
            device_id = object_id_from_global(input.device_id, "Device", field="deviceId")
            await _svc(info).unregister_device(viewer, device_id)
            return UnregisterDevicePayload(ok=True)

        return await run_mutation(UnregisterDevicePayload, act)

    @strawberry.mutation(
        description="Record WeChat subscribe-message consents; each one-time consent allows "
        "one message."
    )
    async def record_subscribe_grant(
        self, info: Info[Context, None], input: RecordSubscribeGrantInput
    ) -> RecordSubscribeGrantPayload:
        viewer = info.context.require_viewer()

        async def act() -> RecordSubscribeGrantPayload:
            device_id = object_id_from_global(input.device_id, "Device", field="deviceId")
            n = await _svc(info).record_subscribe_grants(
                viewer, device_id, list(input.template_ids), input.long_term
            )
            return RecordSubscribeGrantPayload(recorded=n)

        return await run_mutation(RecordSubscribeGrantPayload, act)

    @strawberry.mutation(description="Mark one of my messages read.")
    async def mark_notification_read(
        self, info: Info[Context, None], input: MarkNotificationReadInput
    ) -> MarkNotificationReadPayload:
        viewer = info.context.require_viewer()

        async def act() -> MarkNotificationReadPayload:
            mid = object_id_from_global(
                input.notification_id, "Notification", field="notificationId"
            )
            message = await _svc(info).mark_read(viewer, mid)
            count = await _svc(info).unread_count(viewer)
            return MarkNotificationReadPayload(
                notification=Notification.of(message), unread_count=count
            )

        return await run_mutation(MarkNotificationReadPayload, act)

    @strawberry.mutation(
        description="Record that I opened a message's link (feeds campaign stats)."
    )
    async def mark_notification_opened(
        self, info: Info[Context, None], input: MarkNotificationOpenedInput
    ) -> MarkNotificationOpenedPayload:
        viewer = info.context.require_viewer()

        async def act() -> MarkNotificationOpenedPayload:
            mid = object_id_from_global(
                input.notification_id, "Notification", field="notificationId"
            )
            message = await _svc(info).mark_opened(viewer, mid)
            count = await _svc(info).unread_count(viewer)
            return MarkNotificationOpenedPayload(
                notification=Notification.of(message), unread_count=count
            )

        return await run_mutation(MarkNotificationOpenedPayload, act)

    @strawberry.mutation(description="Mark every message of my inbox read.")
    async def mark_all_notifications_read(
        self, info: Info[Context, None], input: MarkAllNotificationsReadInput
    ) -> MarkAllNotificationsReadPayload:
        viewer = info.context.require_viewer()
        return MarkAllNotificationsReadPayload(marked=await _svc(info).mark_all_read(viewer))

    @strawberry.mutation(description="Choose which categories may push to me.")
    async def set_notification_preferences(
        self, info: Info[Context, None], input: SetNotificationPreferencesInput
    ) -> SetNotificationPreferencesPayload:
        viewer = info.context.require_viewer()
        opted = await _svc(info).set_opted_out(viewer, list(input.opted_out_categories))
        return SetNotificationPreferencesPayload(
            preferences=NotificationPreferences(opted_out_categories=opted)
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="New messages of my inbox as they arrive (WebSocket).")
    async def inbox_events(self, info: Info[Context, None]) -> AsyncGenerator[Notification, None]:
        viewer = info.context.require_viewer()
        state = info.context.state
        async for message in state.inbox_hub.subscribe(state.db, viewer.user_id):
            yield Notification.of(message)


# The campaign half lives in campaign_schema.py; clients see one Query and one Mutation.
Query = merge_types("Query", (InboxQuery, CampaignQuery))
Mutation = merge_types("Mutation", (InboxMutation, CampaignMutation))
