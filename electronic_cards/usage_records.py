"""用证记录: the record of every check (and grant fetch), the holder's event and notice of it,
and the holder's list of them.

A mixin of `CardsService` (kept apart so each module stays one concept); it relies on the
service's store, identity lookups and access check declared below.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bson import ObjectId
from pymongo import InsertOne
from pymongo.errors import PyMongoError

from app.db import Document
from app.errors import DomainError, ForbiddenError
from app.ids import to_global_id
from app.pagination import Connection
from auth.permissions import Viewer
from auth.service import AuthService
from electronic_cards import registry, verifier_orgs
from electronic_cards.models import Licence, UsageRecord, Verification
from electronic_cards.store import CardsStore
from notifications import service as notifications_service

log = logging.getLogger(__name__)
_CHINA = ZoneInfo("Asia/Shanghai")


class UsageRecords:
    store: CardsStore
    auth: AuthService

    if TYPE_CHECKING:
        # Provided by CardsService (electronic_cards/service.py).
        async def _licence_for(
            self, viewer: Viewer, licence_gid: str, *, allow_delegate: bool
        ) -> Licence: ...

    async def usage_records(
        self, viewer: Viewer, licence_gid: str, first: int | None, after: str | None
    ) -> Connection[UsageRecord]:
        try:
            licence = await self._licence_for(viewer, licence_gid, allow_delegate=False)
        except DomainError as exc:
            # A query has no userErrors: refuse like any other access failure.
            raise ForbiddenError("无权查看该证照的用证记录 (not your licence)") from exc
        return await self.store.usage_records(licence.id, first, after)

    async def _record(
        self,
        viewer: Viewer,
        scene: str,
        outcome: Verification,
        licence: Licence | None,
        kid: str | None,
        cti: str | None,
        channel: str = "ONLINE",
    ) -> None:
        """The 用证记录, written before the answer leaves, the holder's event and notice."""
        org = await verifier_orgs.organization_of(viewer.user_id, self.auth.get_user)
        record = UsageRecord(
            id=ObjectId(),
            at=outcome.checked_at,
            licence_id=licence.id if licence else None,
            holder_id=licence.holder_id if licence else None,
            verifier_user_id=viewer.user_id,
            verifier_org_code=org.code if org else viewer.organization_code,
            verifier_org_name=org.name if org else None,
            scene=scene,
            result=outcome.result,
            token_id=cti,
            key_id=kid,
            fields_disclosed=outcome.disclosed,
            flagged=outcome.result.flagged,
            channel=channel,
        )
        if licence is None:
            await self.store.insert_usage_record(record)
            return
        # The holder's event (issue 6 turns these into inbox entries and pushes), the holder's
        # notification job and inbox copy are written with the record, atomically, in one
        # bulkWrite (one transaction: none of them is a retryable write of its own). A
        # notice of a capped category, or one whose preferences could not be read, has only its
        # job in there; its inbox copy follows the commit, or the worker writes it from the job.
        notice = self._holder_notice(licence, record)
        also: list[InsertOne[Document]] = []
        deliver = notice is not None
        if notice is not None:
            try:
                with_copy = await notice.with_copy()
            except PyMongoError:
                log.exception("could not read the holder's notification preferences")
                with_copy = None
            also = with_copy or [notice.outbox_write()]
            deliver = with_copy is None
        event = {
            "_id": ObjectId(),
            "holder_id": licence.holder_id,
            "licence_id": licence.id,
            "kind": "LICENCE_CHECK_FLAGGED" if record.flagged else "LICENCE_CHECKED",
            "at": record.at,
            "data": {
                "usage_record_id": record.id,
                "result": record.result.value,
                "scene": scene,
                "organization": record.verifier_org_name,
            },
            "delivered_at": None,
        }
        await self.store.insert_usage_record(record, event, also)
        if notice is not None and deliver:
            try:
                await notice.deliver()
            except Exception:  # committed job: the worker writes the inbox copy from it
                log.exception("could not write the inbox copy of a licence check notice")

    def _holder_notice(
        self, licence: Licence, record: UsageRecord
    ) -> notifications_service.Notice | None:
        """Every check reaches the holder (inbox, pushes); a failed or refused one as a warning.

        If the notice cannot even be prepared, the record is still written and the answer to
        the verifier still goes out; the failure is logged, never the verification lost.
        """
        kind = registry.licence_type(licence.type_code)
        checked_at = record.at.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M")
        data: dict[str, object] = {
            "licence_name": kind.name if kind else licence.type_code,
            "checked_at": checked_at,
            "licence_id": to_global_id("Licence", licence.id),
        }
        if record.result.value == "VALID":
            template = "LICENCE_CHECKED"
            data["verifier"] = record.verifier_org_name or record.verifier_org_code or "查验机构"
        else:
            template = "LICENCE_CHECK_REFUSED"
            data["reason"] = record.result.value
        try:
            return notifications_service.plan_notice(
                self.store.db,
                licence.holder_id,
                template,
                data,
                urgent=record.flagged,
                key=f"licence-check:{record.id}",
            )
        except Exception:  # the check itself must not fail because a notice could not be made
            log.exception("could not prepare the holder's notice of a licence check")
            return None
