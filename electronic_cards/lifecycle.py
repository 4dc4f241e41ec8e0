"""A licence's life after issue: revoke / suspend / reinstate by its issuer, the issuing
process's withdrawal, and the holder's expiry reminders.

A mixin of `CardsService` (kept apart so each module stays one concept); it relies on the
service's store and holder events declared below.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from app.errors import ForbiddenError
from app.ids import object_id_from_global, to_global_id
from auth.models import Role
from auth.permissions import Viewer
from electronic_cards import registry
from electronic_cards.errors import InvalidTransitionError, LicenceNotFoundError
from electronic_cards.models import Licence, LicenceStatus, today_in_china
from electronic_cards.sharing import text_input
from electronic_cards.store import CardsStore
from notifications import service as notifications_service

log = logging.getLogger(__name__)

REMINDER_DAYS = (30, 7)


class Lifecycle:
    store: CardsStore

    if TYPE_CHECKING:
        # Provided by CardsService (electronic_cards/service.py).
        async def _holder_event(
            self, licence: Licence, kind: str, data: dict[str, Any], dedupe_key: str | None = None
        ) -> bool: ...

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
