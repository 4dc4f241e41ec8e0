"""出证: a clerk's approval issues its result, like 秒批 does, and nothing is lost on failure.

`approveApplication` records the result in the guarded APPROVE transition itself
(`result_on_approval`: the `result` document built by `results.build_result`, the same builder
秒批 uses, and `result_pending: true` when it is an e-licence). Then, within the request,
`issue_result` hands it to `results.deliver_result` → `WalletSink` (the one way a result leaves
申办): the licence's id is the application's, so approving twice, a concurrent approve or any
number of retries yield one licence; `record_delivery` clears the flag and adds a
RESULT_DELIVERED event, once. The applicant is told (template RESULT_ISSUED, keyed per case).

If the wallet write fails after the transition, the approval stands (the clerk's decision is
made), the case keeps `result_pending`, and the worker's hourly housekeeping
(`retry_pending_results`, count `results_delivered`) finishes it — the same pattern as
`revocation_effects_pending`. A 秒批 case whose request died between the insert and the
delivery carries the same flag and is finished the same way. A case revoked in between is
skipped (the revocation clears the flag): no licence for a withdrawn approval. So is a case whose
applicant erased their account (an approved case does not block an erasure): the erasure clears
the flag, the retry skips `applicant_erased_at`, and `issue_result` checks the account is
active — nor does `notify()` write anything for an account that is gone or being erased.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.ids import to_global_id
from applications.deadlines import CHINA
from applications.models import Application
from applications.results import (
    ResultSpec,
    build_result,
    deliver_result,
    licence_pending,
    withdraw_result,
)
from applications.workflow import Status
from notifications import service as notifications_service

if TYPE_CHECKING:
    from applications.service import ApplicationService

log = logging.getLogger(__name__)

BATCH = 500


async def result_on_approval(svc: ApplicationService, app: Application) -> dict[str, Any]:
    """The fields the APPROVE transition sets: the result, flagged pending if an e-licence."""
    name = app.result_name
    if name is None:  # a case submitted before the guide's result name was kept with it
        record = await svc.matters.get(app.matter_code)
        name = record.matter.result_name if record is not None else None
    user = await svc.auth.get_user(app.applicant_id)
    result, spec = build_result(
        name,
        matter_code=app.matter_code,
        holder_name=(user.name if user is not None else None) or "",
        id_number=None,  # never stored with the case; revealed when the licence is issued
        number=app.receipt_number or str(app.id),
        issuer=app.department_name,
        issuer_code=app.department_code,
        valid_from=svc.now().astimezone(CHINA).date(),
    )
    fields: dict[str, Any] = {"result": result}
    if spec is not None:
        fields["result_pending"] = True
    if (app.delivery or {}).get("method") == "POST":
        fields["awaiting_shipment"] = True  # 待邮寄 (shipping.py) until the shipment is recorded
    return fields


async def issue_result(
    svc: ApplicationService, app: Application, *, notify: bool = True
) -> Application:
    """Deliver an approved case's pending e-licence; on failure log and leave it flagged.

    Returns the case as stored afterwards (with `result.delivery` when it went through)."""
    if app.status is not Status.APPROVED or not licence_pending(app.result):
        return app
    if not await svc.auth.users.is_active(app.applicant_id):
        # Erased (or being erased) since the approval: no licence in the name of a person who
        # is gone; the erasure's applications step clears `result_pending` (personal_data.py).
        return app
    try:
        user = await svc.auth.get_user(app.applicant_id)
        id_number = svc.auth.reveal_id_number(user) if user is not None else None
        spec = ResultSpec.from_document(app.result or {}, id_number)
        await deliver_result(svc.sink, app.id, app.applicant_id, spec)
    except Exception:  # the approval stands; `retry_pending_results` finishes the delivery
        log.exception("result delivery failed; the worker retries", extra={"app": str(app.id)})
        return app
    after = await svc.store.get(app.id) or app
    if after.status is Status.REVOKED:
        # Revoked while the licence was on its way: withdraw it again at once.
        try:
            reason = after.revoke_reason or ""
            await withdraw_result(svc.sink, after.result, reason, after.revoked_by)
        except Exception:
            log.exception("late licence not withdrawn", extra={"app": str(app.id)})
        return after
    if notify:
        await _tell_applicant(svc, app)
    return after


async def _tell_applicant(svc: ApplicationService, app: Application) -> None:
    result = app.result or {}
    try:
        await notifications_service.notify(
            svc.store.db,
            app.applicant_id,
            "RESULT_ISSUED",
            {
                "matter_name": app.matter_name,
                "licence_name": result.get("name") or "电子证照",
                "application_id": to_global_id("Application", app.id),
            },
            key=f"result:{app.id}:wallet",  # once per case, however often it is retried
        )
    except Exception:
        log.exception("could not tell the applicant about the issued licence")


async def retry_pending_results(svc: ApplicationService, limit: int = BATCH) -> int:
    """Worker housekeeping: deliver e-licence results a failure left pending; how many went."""
    # An erased applicant's case is never retried: its licence would carry the person's name.
    query = {"result_pending": True, "applicant_erased_at": None}
    cursor = svc.store.apps.find(query).limit(limit)
    done = 0
    for doc in await cursor.to_list(limit):
        app = Application.from_document(doc)
        if app.status is not Status.APPROVED:
            continue  # revoked meanwhile: nothing to issue (the revocation cleared the flag)
        after = await issue_result(svc, app)
        if not after.result_pending:
            done += 1
    return done
