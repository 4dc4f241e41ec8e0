"""The clock jumps (an NTP step, a VM resumed from suspend): forward and back.

Access tokens expire by the clock the service reads, and survive a small step back; a
non-urgent push caught by a jump into quiet hours waits for the morning, even when the clock
then steps back a little, and is sent exactly once after.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.context import AppState
from auth.tokens import CLOCK_SKEW_SECONDS
from notifications import service as notifications_service
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import add_device, dispatcher
from tests.notifications.fcm_standin import FcmStandIn

ME = "{ me { phone } }"


def _expired(payload: dict[str, object]) -> bool:
    errors = payload.get("errors") or []
    return bool(errors) and "过期" in str(errors[0])  # type: ignore[index]


async def test_access_tokens_follow_the_service_clock_through_jumps(api: Api) -> None:
    await create_demo_user(api.state, "13800000001")
    keys = api.state.token_keys
    clock = ManualClock(datetime.now(UTC))
    keys.clock = clock.now
    token = await api.token("13800000001")
    ttl = keys.ttl.total_seconds()

    clock.advance(-(CLOCK_SKEW_SECONDS - 5))  # an NTP step back: the token is still good
    assert "errors" not in await api.gql(ME, token=token)
    clock.advance(CLOCK_SKEW_SECONDS - 5 + ttl - 1)  # a jump forward, just inside the lifetime
    assert "errors" not in await api.gql(ME, token=token)
    clock.advance(2)  # one more step: expired, and said so
    payload = await api.gql(ME, token=token)
    assert _expired(payload), payload
    clock.advance(-3600)  # back an hour: minted "in the future" now, so refused, not trusted
    future = await api.gql(ME, token=token)
    assert future["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def _notify(state: AppState, user_id: object, clock: ManualClock, *, urgent: bool) -> None:
    await notifications_service.notify(
        state.db,
        user_id,  # type: ignore[arg-type]
        "APPLICATION_STATUS_CHANGED",
        {"matter_name": "优待证", "receipt_number": "1", "status": "已办结", "application_id": "A"},
        urgent=urgent,
        key=f"clock-{urgent}",
        clock=clock,
    )


async def test_a_jump_into_quiet_hours_holds_pushes_until_morning_and_sends_once(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    # 21:50 in Qingdao (13:50 UTC): outside the 22:00-08:00 quiet hours.
    clock = ManualClock(datetime(2026, 11, 23, 13, 50, tzinfo=UTC))
    await add_device(api.state, user, "ok-clock-" + "c" * 40, clock)
    worker = dispatcher(api.state, fcm, clock, quiet="22:00-08:00")
    await _notify(api.state, user.id, clock, urgent=False)

    clock.advance(timedelta(minutes=100).total_seconds())  # the clock jumps to 23:30
    await _notify(api.state, user.id, clock, urgent=True)  # urgent ones ignore quiet hours
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 1  # only the urgent one

    clock.advance(-timedelta(minutes=80).total_seconds())  # and steps back to 22:10
    await worker.run_until_idle()
    clock.current = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)  # 07:59:59 next morning
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 1
    clock.advance(2)  # 08:00:01
    await worker.run_until_idle()
    clock.advance(3600)
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 2  # the held push, once
