"""申办 housekeeping, run by every `zsb worker` (see `notifications/runner.py`): 容缺 reminders,
the supplement deadline, and bundles a dead process left half-submitted.

容缺 (B4: "accept when all core materials are present; state ACCEPTED_PENDING_SUPPLEMENT;
pendingSupplements[] with a due date; reminders"): the applicant is reminded two working days
before the supplement due day and on the day itself (template SUPPLEMENT_DEADLINE). Each step is
sent once per application: the notice's key is `supplement:<id>:<step>` (notify() returns the
first message for a repeated key, so two workers send one) and the step is then `$addToSet` on
the case, so later rounds skip it.

When the deadline passes without the materials, the case moves ACCEPTED_PENDING_SUPPLEMENT →
REJECTED by SYSTEM (`SUPPLEMENT_EXPIRED`, reason recorded, applicant notified). Why REJECTED: a
容缺 acceptance rests on the applicant's written promise to complete the file before the
decision (B4: 「申请人申请容缺受理时,应当向政务服务部门提交申请容缺受理承诺书」; anchors note 21:
「有欠缺但申请人承诺在审查决定做出之前能补齐」), and approval is impossible while materials are
missing, so a missed deadline ends the case — the state machine has this edge for that reason.
The applicant can apply again; a RETURNED case would instead consume the one 补正 round (B11).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from app.ids import to_global_id
from applications.bundles import BundleDesk
from applications.deadlines import CHINA, working_days_between
from applications.issuing import retry_pending_results
from applications.models import Application, Event
from applications.postcheck import retry_revocation_effects
from applications.workflow import Status
from notifications import service as notifications_service

if TYPE_CHECKING:
    from app.context import AppState
    from applications.service import ApplicationService

log = logging.getLogger(__name__)

REMINDER_STEPS = (2, 0)  # working days left before the due day
BATCH = 500
PENDING = Status.ACCEPTED_PENDING_SUPPLEMENT


async def remind_supplements(svc: ApplicationService, now: datetime) -> int:
    """Send the reminders due now; returns how many were sent this round."""
    today = now.astimezone(CHINA).date()
    cursor = svc.store.apps.find(
        {
            "status": PENDING.value,
            "supplement_due_at": {"$gte": now, "$lte": now + timedelta(days=14)},
        }
    ).limit(BATCH)
    sent = 0
    for doc in await cursor.to_list(BATCH):
        app = Application.from_document(doc)
        if app.supplement_due_at is None:  # pragma: no cover - the filter says it is set
            continue
        due_day = app.supplement_due_at.astimezone(CHINA).date()
        left = working_days_between(today, due_day)
        steps = [s for s in REMINDER_STEPS if left <= s]
        done = set(doc.get("supplement_reminders", []))
        if not steps or min(steps) in done:
            continue
        step = min(steps)
        await notifications_service.notify(
            svc.store.db,
            app.applicant_id,
            "SUPPLEMENT_DEADLINE",
            {
                "matter_name": app.matter_name,
                "deadline": f"{due_day.year}年{due_day.month}月{due_day.day}日",
                "application_id": to_global_id("Application", app.id),
            },
            urgent=step == 0,
            key=f"supplement:{app.id}:{step}",
        )
        # Every step this reminder covers is done (a late first round does not send two).
        await svc.store.apps.update_one(
            {"_id": app.id}, {"$addToSet": {"supplement_reminders": {"$each": steps}}}
        )
        sent += 1
    return sent


async def expire_supplements(svc: ApplicationService, now: datetime) -> int:
    """End the cases whose supplement deadline has passed (guarded: a late supplement wins)."""
    cursor = svc.store.apps.find(
        {"status": PENDING.value, "supplement_due_at": {"$lt": now}}
    ).limit(BATCH)
    ended = 0
    for doc in await cursor.to_list(BATCH):
        app = Application.from_document(doc)
        reason = "容缺材料逾期未补齐：" + "、".join(app.pending_supplements)
        event = Event(now, None, "SYSTEM", "SUPPLEMENT_EXPIRED", PENDING, Status.REJECTED, reason)
        moved = await svc.store.transition(
            app,
            Status.REJECTED,
            [event],
            {"finished_at": now, "rejection_reason": reason},
        )
        if moved is None:  # supplemented, withdrawn or handled meanwhile
            continue
        await svc._notify_applicant(moved, PENDING, Status.REJECTED)
        ended += 1
    return ended


async def housekeeping(svc: ApplicationService, now: datetime) -> dict[str, int]:
    return {
        "reminded": await remind_supplements(svc, now),
        "expired": await expire_supplements(svc, now),
        "bundles_finished": await BundleDesk(svc).finish_stale(now),
        "revocations_finished": await retry_revocation_effects(svc),
        "results_delivered": await retry_pending_results(svc),
    }


def service_for(state: AppState) -> ApplicationService:
    """An ApplicationService outside a request (the worker), wired like `Context.applications`."""
    from applications.results import WalletSink
    from applications.service import ApplicationService
    from applications.store import ApplicationStore
    from applications.uploads.evidence import MaterialEvidence
    from applications.uploads.store import UploadStore
    from matters.service import MatterService
    from matters.store import MatterStore

    store = ApplicationStore(state.db)
    return ApplicationService(
        store,
        MatterService(MatterStore(state.db), state.matters),
        state.auth_service(),
        WalletSink(state.cards_service(), store.record_delivery),
        evidence=MaterialEvidence(UploadStore(state.db), state.cards_service()),
    )
