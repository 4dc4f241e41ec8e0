"""Provider stand-ins (real HTTP servers on 127.0.0.1) and helpers for the notification tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bson import ObjectId

from app.context import AppState
from auth.models import User
from notifications.models import Platform, Provider
from notifications.policy import ManualClock, QuietHours
from notifications.providers.fcm import FcmProvider
from notifications.store import NotificationStore
from notifications.worker import DispatchConfig, Dispatcher
from tests.conftest import ThreadedServer, loopback_socket
from tests.notifications.fcm_standin import FcmStandIn

# 10:00 in Qingdao on a weekday: outside the default quiet hours.
DAYTIME = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def fcm_server() -> Iterator[FcmStandIn]:
    standin = FcmStandIn()
    sock = loopback_socket()
    standin.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ThreadedServer(standin.app, sock=sock):
        yield standin


@pytest.fixture
def fcm_credentials(fcm_server: FcmStandIn, tmp_path: Path) -> Path:
    return fcm_server.service_account(tmp_path / "service-account.json")


@pytest.fixture
async def fcm(fcm_server: FcmStandIn, fcm_credentials: Path) -> AsyncIterator[FcmProvider]:
    provider = await FcmProvider.create(fcm_credentials, fcm_server.base_url, http_timeout=5)
    yield provider
    await provider.aclose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DAYTIME)


def dispatcher(
    state: AppState,
    fcm: FcmProvider | None,
    clock: ManualClock,
    quiet: str = "22:00-08:00",
    **config: float,
) -> Dispatcher:
    providers = {Provider.FCM: fcm} if fcm is not None else {}
    return Dispatcher(
        state.db,
        providers,  # type: ignore[arg-type]
        quiet=QuietHours.parse(quiet),
        clock=clock,
        config=DispatchConfig(**{"base_delay": 2.0, "chunk_size": 20, **config}),  # type: ignore[arg-type]
    )


async def add_device(
    state: AppState, user: User | ObjectId, token: str, clock: ManualClock | None = None
) -> ObjectId:
    user_id = user.id if isinstance(user, User) else user
    device = await NotificationStore(state.db).upsert_device(
        {
            "provider": Provider.FCM.value,
            "token": token,
            "user_id": user_id,
            "platform": Platform.ANDROID.value,
            "app_version": "5.2.0",
            "locale": "zh-CN",
        },
        (clock.now() if clock else DAYTIME),
    )
    return device.id


async def insert_citizens(
    state: AppState, n: int, *, region: str = "370211", tokens_prefix: str | None = "ok-"
) -> list[ObjectId]:
    """`n` citizens (and one FCM device each), written in bulk for audience-sized tests."""
    from auth.models import AssuranceLevel, Role
    from auth.user_store import UserStore

    now = datetime.now(UTC)
    users = [
        User(
            id=ObjectId(),
            phone=f"139{i:08d}",
            roles=(Role.CITIZEN,),
            assurance_level=AssuranceLevel.L2,
            created_at=now,
            region_code=region,
        )
        for i in range(n)
    ]
    await UserStore(state.db, state.keyring).insert_users(users)
    if tokens_prefix is not None:
        await NotificationStore(state.db).insert_devices(
            [
                {
                    "provider": "FCM",
                    "token": f"{tokens_prefix}{u.id}-{'t' * 20}",
                    "user_id": u.id,
                    "platform": "ANDROID",
                    "enabled": True,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for u in users
            ]
        )
    return [u.id for u in users]
