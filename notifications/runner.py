"""`zsb worker`: a dispatcher process with the providers the settings configure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime

import httpx

from app.context import AppState
from applications.uploads.housekeeping import sweep_orphan_uploads
from notifications.models import Provider
from notifications.policy import QuietHours
from notifications.providers.base import PushProvider
from notifications.providers.fcm import FcmProvider
from notifications.providers.wechat import WeChatProvider
from notifications.wechat_store import WechatGrantStore
from notifications.worker import DispatchConfig, Dispatcher

log = logging.getLogger(__name__)


async def build_providers(state: AppState) -> dict[Provider, PushProvider]:
    settings = state.settings
    providers: dict[Provider, PushProvider] = {}
    if settings.fcm_credentials:
        providers[Provider.FCM] = await FcmProvider.create(
            settings.fcm_credentials, settings.fcm_endpoint
        )
    else:
        log.warning("ZSB_FCM_CREDENTIALS unset: FCM devices get inbox copies only")
    if settings.wechat_appid and settings.wechat_secret:
        providers[Provider.WECHAT_MINIPROGRAM] = WeChatProvider(
            httpx.AsyncClient(timeout=httpx.Timeout(10.0)),
            WechatGrantStore(state.db),
            appid=settings.wechat_appid,
            secret=settings.wechat_secret.get_secret_value(),
            api_base=settings.wechat_api_base,
            templates=settings.wechat_templates,
        )
    return providers


REMINDER_INTERVAL = 3600.0  # seconds; reminders are per day, an hour's delay is harmless


async def _licence_reminders(state: AppState, stop: asyncio.Event) -> None:
    """Licence expiry reminders (30 and 7 days ahead), checked hourly by every worker."""
    while not stop.is_set():
        try:
            sent = await state.cards_service().record_expiry_reminders(datetime.now(UTC))
            if sent:
                log.info("licence expiry reminders", extra={"count": sent})
        except Exception:  # a failed round is retried next hour; delivery goes on meanwhile
            log.exception("licence expiry reminders failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REMINDER_INTERVAL)


async def _application_housekeeping(state: AppState, stop: asyncio.Event) -> None:
    """申办: 容缺 reminders and deadlines, half-submitted bundles; hourly, like the above."""
    from applications.reminders import housekeeping, service_for

    while not stop.is_set():
        try:
            counts = await housekeeping(service_for(state), datetime.now(UTC))
            if any(counts.values()):
                log.info("application housekeeping", extra=counts)
        except Exception:  # retried next hour
            log.exception("application housekeeping failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REMINDER_INTERVAL)


ERASURE_INTERVAL = 30.0  # seconds; an erasure's sweep is due half a minute after it finished


async def _erasure_housekeeping(state: AppState, stop: asyncio.Event) -> None:
    """PIPL erasures: resume one that stopped part way, sweep finished ones (app/erasures.py)."""
    from app.erasures import finish_erasures

    while not stop.is_set():
        try:
            counts = await finish_erasures(state, datetime.now(UTC))
            if any(counts.values()):
                log.info("erasure housekeeping", extra=counts)
        except Exception:  # retried next round
            log.exception("erasure housekeeping failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ERASURE_INTERVAL)


async def run_worker(state: AppState, config: DispatchConfig, *, once: bool = False) -> int:
    # httpx logs every request at INFO: one line per push would drown the worker's own log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    providers = await build_providers(state)
    dispatcher = Dispatcher(
        state.db, providers, quiet=QuietHours.parse(state.settings.quiet_hours), config=config
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Finish the jobs in hand, then exit; anything unfinished goes back with its lease.
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", extra={"owner": dispatcher.owner})
    reminders = None if once else asyncio.create_task(_licence_reminders(state, stop))
    sweeps = None if once else asyncio.create_task(sweep_orphan_uploads(state, stop))
    housekeeping = None if once else asyncio.create_task(_application_housekeeping(state, stop))
    erasing = None if once else asyncio.create_task(_erasure_housekeeping(state, stop))
    try:
        if once:
            return await dispatcher.run_until_idle()
        await dispatcher.run(stop)
        return 0
    finally:
        if reminders is not None:
            reminders.cancel()
        if sweeps is not None:
            sweeps.cancel()
        if housekeeping is not None:
            housekeeping.cancel()
        if erasing is not None:
            erasing.cancel()
        for provider in providers.values():
            await provider.aclose()
