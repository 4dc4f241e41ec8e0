"""Orphan uploads: removed by every `zsb worker`, hourly, after the retention period.

Why a sweep and not a TTL index: a TTL index on `material_uploads` would delete the metadata
but leave the GridFS chunks behind, and it cannot spare uploads that an application uses. The
sweep deletes each orphan with the "not attached" guard in the delete's own filter (an upload
attached meanwhile survives), then its GridFS file and chunks. Several workers sweeping at once
is harmless: each delete is claimed by one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.context import AppState

log = logging.getLogger(__name__)
SWEEP_INTERVAL = 3600.0  # seconds; the retention period is days


async def sweep_orphan_uploads(state: AppState, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await state.upload_service().sweep_orphans()
        except Exception:  # a failed round is retried next hour
            log.exception("orphan upload sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_INTERVAL)
