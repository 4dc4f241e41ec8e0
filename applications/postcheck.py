"""告知承诺 事后核查 (B5): 你承诺、我审批、你失信、我撤销.

An application approved on a commitment (`commitment`: some proof was replaced by a signed
commitment) waits in `postCheckQueue` until a clerk of its department records the check
(PASSED, or BROKEN with what was found). A broken commitment lets the clerk revoke the approval
(`revokeApplication`); `after_revocation` then withdraws the e-licence the approval delivered
(the wallet marks it REVOKED, so verification and the status list say so at once), writes a
credit event (信用记录) for a broken commitment, and audits the act. The applicant is notified of
the REVOKED status like every status change.
"""

from __future__ import annotations

import contextlib
import logging
from enum import StrEnum
from typing import TYPE_CHECKING

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.db import Document
from app.errors import DomainError
from app.ids import to_global_id
from app.pagination import Connection, SortKey, paginate
from applications.departments import processable_departments
from applications.errors import ConcurrentChangeError, InvalidTransitionError
from applications.flow_store import CREDIT_EVENTS
from applications.models import Application, Event
from applications.results import withdraw_result
from applications.staff import audit
from applications.workflow import Status
from auth.models import Role
from auth.permissions import Viewer

if TYPE_CHECKING:
    from applications.service import ApplicationService

log = logging.getLogger(__name__)

MAX_NOTE = 500
OLDEST_FIRST = SortKey((("finished_at", 1), ("_id", 1)))


class PostCheckOutcome(StrEnum):
    PASSED = "PASSED"  # the commitment held
    BROKEN = "BROKEN"  # 失信: the commitment was false or not kept


class PostCheckDesk:
    def __init__(self, svc: ApplicationService) -> None:
        self.svc = svc

    async def queue(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Application]:
        """Approved commitment cases not checked yet, the longest-waiting first."""
        viewer.require_role(Role.CLERK)
        departments = await processable_departments(self.svc.matters, viewer.department_code)
        query: Document = {
            "commitment": True,
            "status": Status.APPROVED.value,
            "department_code": {"$in": departments},
            "post_check": None,
        }
        return await paginate(
            self.svc.store.apps, query, OLDEST_FIRST, first, after, Application.from_document
        )

    async def record(
        self, viewer: Viewer, app_id: ObjectId, outcome: PostCheckOutcome, note: str | None
    ) -> Application:
        text = (note or "").strip()
        if len(text) > MAX_NOTE:
            raise DomainError(f"核查意见不能超过{MAX_NOTE}字", code="TOO_LONG", field="note")
        if outcome is PostCheckOutcome.BROKEN and not text:
            raise DomainError(
                "认定失信须写明核查情况 (note required for BROKEN)",
                code="NOTE_REQUIRED",
                field="note",
            )
        app = await self.svc._for_clerk(viewer, app_id)
        if not app.commitment:
            raise DomainError(
                "该办件未适用告知承诺，无需核查 (no commitment to check)",
                code="NO_COMMITMENT",
                field="applicationId",
            )
        if app.status is not Status.APPROVED or app.post_check is not None:
            raise InvalidTransitionError(app.status.value, "登记核查结果")
        now = self.svc.now()
        check = {"outcome": outcome.value, "note": text or None, "at": now, "by": viewer.user_id}
        event = Event(
            now,
            viewer.user_id,
            "CLERK",
            "POST_CHECK",
            app.status,
            app.status,
            text or None,
            {"outcome": outcome.value},
        )
        moved = await self.svc.store.transition(app, app.status, [event], {"post_check": check})
        if moved is None:
            raise ConcurrentChangeError()
        await audit(
            self.svc.store.db,
            "applications.post_check",
            viewer,
            to_global_id("Application", app.id),
            {"outcome": outcome.value},
        )
        return moved


async def after_revocation(svc: ApplicationService, app: Application) -> bool | None:
    """Finish a revocation's effects: licence withdrawn, credit event for a commitment case.

    Idempotent, so the request and any number of worker passes may run it: the wallet revokes
    only a VALID/SUSPENDED licence, the credit event is an upsert on its unique
    (application_id, kind). The case's `revocation_effects_pending` flag, set in the guarded
    REVOKED transition, is cleared only once both went through. Returns whether this call
    withdrew the licence, or None when an effect failed (the flag stays; the worker retries)."""
    reason = str(app.revoke_reason or "")
    try:
        licence_revoked = await withdraw_result(svc.sink, app.result, reason, app.revoked_by)
        if app.commitment:
            await _credit_event(svc, app, reason)
    except Exception:  # the case stays REVOKED and flagged; `retry_revocation_effects` resumes
        log.exception(
            "revocation effects failed; the worker retries", extra={"application": str(app.id)}
        )
        return None
    await svc.store.apps.update_one(
        {"_id": app.id, "revocation_effects_pending": True},
        {
            "$unset": {"revocation_effects_pending": ""},
            "$set": {"revocation_effects_at": svc.now()},
        },
    )
    return licence_revoked


async def _credit_event(svc: ApplicationService, app: Application, reason: str) -> None:
    broken = (app.post_check or {}).get("outcome") == PostCheckOutcome.BROKEN.value
    kind = "BROKEN_COMMITMENT" if broken else "COMMITMENT_APPROVAL_REVOKED"
    # DuplicateKeyError: a concurrent pass inserted it first; it exists, once.
    with contextlib.suppress(DuplicateKeyError):
        await svc.store.db[CREDIT_EVENTS].update_one(
            {"application_id": app.id, "kind": kind},
            {
                "$setOnInsert": {
                    "subject_id": app.applicant_id,
                    "matter_code": app.matter_code,
                    "department_code": app.department_code,
                    "reason": reason,
                    "at": svc.now(),
                    "by": app.revoked_by,
                }
            },
            upsert=True,
        )


async def audit_revocation(
    svc: ApplicationService, viewer: Viewer, app: Application, licence_revoked: bool | None
) -> None:
    broken = (app.post_check or {}).get("outcome") == PostCheckOutcome.BROKEN.value
    await audit(
        svc.store.db,
        "applications.revoke",
        viewer,
        to_global_id("Application", app.id),
        {
            "licence_revoked": bool(licence_revoked),
            "effects_pending": licence_revoked is None,
            "commitment": app.commitment,
            "broken": broken,
        },
    )


async def retry_revocation_effects(svc: ApplicationService, limit: int = 500) -> int:
    """Worker housekeeping: finish the revocations whose effects failed; how many finished."""
    # The flag is only ever set by the REVOKED transition: the flag alone selects (and an
    # equality on it alone is what the planner serves from its index).
    cursor = svc.store.apps.find({"revocation_effects_pending": True}).limit(limit)
    done = 0
    for doc in await cursor.to_list(limit):
        if await after_revocation(svc, Application.from_document(doc)) is not None:
            done += 1
    return done
