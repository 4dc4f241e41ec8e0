"""寄递与领取: what happens to a paper result after approval (快递办, requirements B2/B17).

- `recordShipment` (clerks of the handling department): an APPROVED case whose applicant chose
  POST gets its carrier and tracking number; a SHIPMENT event; the applicant is told (template
  RESULT_SHIPPED, with the number). **A second call corrects it** rather than being refused: a
  mistyped number would otherwise leave the citizen tracking someone else's parcel. The
  correction is a SHIPMENT_CORRECTED event holding the previous carrier and number (the
  timeline keeps both), and the applicant is told the new number. Sending the same carrier and
  number again changes nothing (a retry), and once the applicant has confirmed receipt the
  shipment is final (`ALREADY_RECEIVED`).
- `confirmReceipt` (the applicant): SHIPPED → RECEIVED, once.
- `recordPickup` (clerks): a PICKUP result handed over at the hall, once.

Each is a guarded update of the case (status and revision read), so two clerks cannot both
win; each is audited (`applications.delivery.*`, no personal data) beside the API's own record.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from app.db import Document
from app.errors import DomainError
from app.ids import to_global_id
from app.pagination import Connection, SortKey, paginate
from applications.departments import processable_departments
from applications.errors import (
    ApplicationNotFoundError,
    ConcurrentChangeError,
    InvalidTransitionError,
)
from applications.flow_store import AWAITING_SHIPMENT_INDEX
from applications.models import Application, Event
from applications.staff import audit
from applications.store import UNSET
from applications.workflow import Status
from auth.models import Role
from auth.permissions import Viewer
from notifications import service as notifications_service

if TYPE_CHECKING:
    from applications.service import ApplicationService


class Carrier(StrEnum):
    EMS = "中国邮政EMS"  # also 政务专递 (EMS's service for government documents)
    SF = "顺丰速运"
    JD = "京东物流"
    ZTO = "中通快递"
    YTO = "圆通速递"
    STO = "申通快递"
    YUNDA = "韵达快递"


# Waybill number formats as the carriers print them (after upper-casing, without spaces). A
# format check only: whether the parcel exists is the carrier's to say (no carrier API here).
TRACKING_FORMATS: dict[Carrier, re.Pattern[str]] = {
    Carrier.EMS: re.compile(r"^(?:[A-Z]{2}\d{9}[A-Z]{2}|1\d{12})$"),  # UPU S10, or domestic 13
    Carrier.SF: re.compile(r"^SF\d{12,13}$"),
    Carrier.JD: re.compile(r"^JD[A-Z0-9]{13,15}$"),
    Carrier.ZTO: re.compile(r"^\d{12,15}$"),
    Carrier.YTO: re.compile(r"^YT\d{13,16}$"),
    Carrier.STO: re.compile(r"^\d{12,15}$"),
    Carrier.YUNDA: re.compile(r"^\d{13,15}$"),
}
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def _s10_ok(number: str) -> bool:
    """UPU S10 check digit (EMS international-style numbers: two letters, 8 digits + check)."""
    digits = [int(c) for c in number[2:10]]
    check = 11 - sum(w * d for w, d in zip(_S10_WEIGHTS, digits, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return check == int(number[10])


def normalize_tracking(carrier: Carrier, value: Any) -> str:
    number = re.sub(r"[\s-]", "", value).upper() if isinstance(value, str) else ""
    fmt = TRACKING_FORMATS[carrier]
    if (
        len(number) > 30
        or not fmt.match(number)
        or (carrier is Carrier.EMS and number[:1].isalpha() and not _s10_ok(number))
    ):
        raise DomainError(
            f"运单号与{carrier.value}的格式不符 (tracking number does not match the carrier)",
            code="INVALID_TRACKING_NUMBER",
            field="trackingNumber",
        )
    return number


def _method_error(expected: str) -> DomainError:
    names = {"POST": "邮寄送达", "PICKUP": "窗口领取"}
    return DomainError(
        f"申请人选择的结果送达方式不是{names[expected]} (delivery method is not {expected})",
        code="WRONG_DELIVERY_METHOD",
        field="applicationId",
    )


async def approved_case(
    svc: ApplicationService, viewer: Viewer, app_id: ObjectId, method: str, action: str
) -> Application:
    """The clerk's APPROVED case whose applicant chose `method` (POST / PICKUP), or the error
    saying why not; another department's case is FORBIDDEN."""
    app = await svc._for_clerk(viewer, app_id)
    if app.status is not Status.APPROVED:
        raise InvalidTransitionError(app.status.value, action)
    if (app.delivery or {}).get("method") != method:
        raise _method_error(method)
    return app


OLDEST_FIRST = SortKey((("finished_at", 1), ("_id", 1)))


class ShippingDesk:
    def __init__(self, svc: ApplicationService) -> None:
        self.svc = svc

    async def queue(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Application]:
        """待邮寄: approved POST cases not shipped yet, of the clerk's departments, oldest first.

        Selected by the `awaiting_shipment` flag (index `awaiting_shipment_v2` holds only the
        flagged cases, named as the query's hint); the status, the missing shipment and the
        applicant not erased are checked on those as well, so a case that left the queue by a
        path not clearing the flag (a process of the release before it, in a rolling upgrade)
        is still not listed."""
        viewer.require_role(Role.CLERK)
        departments = await processable_departments(self.svc.matters, viewer.department_code)
        query: Document = {
            "awaiting_shipment": True,
            "department_code": {"$in": departments},
            "status": Status.APPROVED.value,
            "delivery.shipment": None,
            "applicant_erased_at": None,
        }
        # The planner does not match the query to the partial index's filter by itself.
        return await paginate(
            self.svc.store.apps,
            query,
            OLDEST_FIRST,
            first,
            after,
            Application.from_document,
            hint=AWAITING_SHIPMENT_INDEX,
        )

    async def record_shipment(
        self, viewer: Viewer, app_id: ObjectId, carrier: Carrier, tracking_number: str
    ) -> Application:
        viewer.require_role(Role.CLERK)  # before looking at the input: a citizen learns nothing
        number = normalize_tracking(carrier, tracking_number)
        app = await approved_case(self.svc, viewer, app_id, "POST", "登记结果送达")
        delivery = app.delivery or {}
        previous = delivery.get("shipment")
        if delivery.get("received_at") is not None:
            raise DomainError(
                "申请人已确认收到，不能再修改寄递信息 (already received)",
                code="ALREADY_RECEIVED",
                field="applicationId",
            )
        if previous and (previous["carrier"], previous["tracking_number"]) == (
            carrier.name,
            number,
        ):
            # The same shipment again (a retry): nothing changes, but a first request that
            # moved the case and then failed (its notice or audit) is finished now, with the
            # same notify key, so the applicant is told once and the act is audited once.
            if previous.get("announced_at") is None:
                corrected = previous.get("updated_at") != previous.get("shipped_at")
                await self._announce_shipment(viewer, app, carrier, number, corrected)
            return app
        now = self.svc.now()
        shipment = {
            "carrier": carrier.name,
            "tracking_number": number,
            "shipped_at": previous["shipped_at"] if previous else now,
            "recorded_by": viewer.user_id,
            "updated_at": now,
        }
        data: dict[str, Any] = {"carrier": carrier.name, "trackingNumber": number}
        if previous:
            data["previous"] = {
                "carrier": previous["carrier"],
                "trackingNumber": previous["tracking_number"],
            }
        action = "SHIPMENT_CORRECTED" if previous else "SHIPMENT"
        fields = {"delivery.shipment": shipment, "awaiting_shipment": UNSET}  # leaves 待邮寄
        moved = await self._step(viewer, app, action, data, fields, now)
        await self._announce_shipment(viewer, app, carrier, number, previous is not None)
        return moved

    async def _announce_shipment(
        self, viewer: Viewer, app: Application, carrier: Carrier, number: str, corrected: bool
    ) -> None:
        """Tell the applicant and audit the act, then mark the shipment announced (a retry of
        a request that failed part way repeats exactly what is missing: the notice is keyed)."""
        await notifications_service.notify(
            self.svc.store.db,
            app.applicant_id,
            "RESULT_SHIPPED",
            {
                "matter_name": app.matter_name,
                "carrier": carrier.value,
                "tracking_number": number,
                "application_id": to_global_id("Application", app.id),
            },
            key=f"shipment:{app.id}:{carrier.name}:{number}",
        )
        await audit(
            self.svc.store.db,
            "applications.delivery.shipment",
            viewer,
            to_global_id("Application", app.id),
            {"carrier": carrier.name, "corrected": corrected},
        )
        guard = {
            "delivery.shipment.carrier": carrier.name,
            "delivery.shipment.tracking_number": number,
        }
        await self.svc.store.mark_done(
            app.id, guard, "delivery.shipment.announced_at", self.svc.now()
        )

    async def record_pickup(self, viewer: Viewer, app_id: ObjectId) -> Application:
        viewer.require_role(Role.CLERK)
        app = await approved_case(self.svc, viewer, app_id, "PICKUP", "登记结果送达")
        delivery = app.delivery or {}
        if delivery.get("collected_at") is not None:
            if (
                delivery.get("audited_at") is None
                and delivery.get("handed_over_by") == viewer.user_id
            ):
                # The same clerk's retry of a hand-over whose audit failed: finish it.
                await self._audit_pickup(viewer, app)
                return app
            raise DomainError(
                "结果已领取 (already collected)", code="ALREADY_COLLECTED", field="applicationId"
            )
        now = self.svc.now()
        fields = {"delivery.collected_at": now, "delivery.handed_over_by": viewer.user_id}
        moved = await self._step(viewer, app, "RESULT_COLLECTED", None, fields, now)
        await self._audit_pickup(viewer, app)
        return moved

    async def _audit_pickup(self, viewer: Viewer, app: Application) -> None:
        await audit(
            self.svc.store.db,
            "applications.delivery.pickup",
            viewer,
            to_global_id("Application", app.id),
            {},
        )
        guard = {"delivery.handed_over_by": viewer.user_id}
        await self.svc.store.mark_done(app.id, guard, "delivery.audited_at", self.svc.now())

    async def confirm_receipt(self, viewer: Viewer, app_id: ObjectId) -> Application:
        app = await self.svc.store.get(app_id)
        if app is None or app.applicant_id != viewer.user_id:
            raise ApplicationNotFoundError()
        delivery = app.delivery or {}
        if app.status is not Status.APPROVED or not delivery.get("shipment"):
            raise DomainError(
                "结果尚未寄出 (not shipped yet)", code="NOT_SHIPPED", field="applicationId"
            )
        if delivery.get("received_at") is not None:
            raise DomainError(
                "已确认收到 (already confirmed)", code="ALREADY_RECEIVED", field="applicationId"
            )
        now = self.svc.now()
        return await self._step(
            viewer, app, "RECEIPT_CONFIRMED", None, {"delivery.received_at": now}, now, "APPLICANT"
        )

    async def _step(
        self,
        viewer: Viewer,
        app: Application,
        action: str,
        data: dict[str, Any] | None,
        fields: dict[str, Any],
        now: datetime,
        role: str = "CLERK",
    ) -> Application:
        event = Event(now, viewer.user_id, role, action, app.status, app.status, None, data)
        moved = await self.svc.store.transition(app, app.status, [event], fields)
        if moved is None:
            raise ConcurrentChangeError()
        return moved
