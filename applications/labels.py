"""打印面单: the one purpose-limited read of a sealed 结果送达 address (query `shippingLabel`).

The clerk who posts a paper result has to write the recipient's name, phone and street on the
waybill; every other response shows the masked copy only. So the full address is opened here,
and only under all of these conditions:

- the caller is a clerk who may process the case (`may_process`, as for `recordShipment`;
  another department's clerk is FORBIDDEN, a citizen too, before anything is looked up);
- the case is APPROVED with POST delivery (`INVALID_TRANSITION`, `WRONG_DELIVERY_METHOD`);
- the applicant has not confirmed receipt (`ALREADY_RECEIVED`), and at most LABEL_DAYS after
  the first dispatch (`LABEL_EXPIRED`) — long enough to reprint for a returned or re-sent
  parcel, short enough that a posted case does not stay an address book;
- the address still exists (erased with the account: `ADDRESS_ERASED`).

Each read is audited (`applications.delivery.label`, actor, case, purpose 寄递; no personal
data) and budgeted per clerk (`OPERATION_RATES["shippingLabel"]`, in the resolver). Nothing
here logs the address; the response is the one place it leaves the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bson import ObjectId

from app.errors import DomainError
from app.ids import to_global_id
from applications.delivery import open_address
from applications.shipping import approved_case
from applications.staff import audit
from auth.models import Role
from auth.permissions import Viewer

if TYPE_CHECKING:
    from applications.service import ApplicationService

LABEL_DAYS = 7
PURPOSE = "寄递"


@dataclass(frozen=True, slots=True)
class Label:
    application_id: ObjectId
    receipt_number: str
    matter_name: str
    result_name: str | None
    recipient_name: str
    phone: str
    region: str
    line: str


def _refused(message: str, code: str) -> DomainError:
    return DomainError(message, code=code, field="applicationId")


async def shipping_label(svc: ApplicationService, viewer: Viewer, app_id: ObjectId) -> Label:
    viewer.require_role(Role.CLERK)
    app = await approved_case(svc, viewer, app_id, "POST", "打印面单")
    delivery = app.delivery or {}
    if delivery.get("received_at") is not None:
        raise _refused("申请人已确认收到，不再提供收件地址 (already received)", "ALREADY_RECEIVED")
    shipment = delivery.get("shipment")
    if shipment and svc.now() - shipment["shipped_at"] > timedelta(days=LABEL_DAYS):
        raise _refused(
            f"寄出已超过{LABEL_DAYS}日，不再提供收件地址 (label no longer available)",
            "LABEL_EXPIRED",
        )
    address = delivery.get("address")
    if not address:
        raise _refused("收件地址已随账号注销删除 (address erased)", "ADDRESS_ERASED")
    opened = open_address(address, svc.auth.keyring)
    await audit(
        svc.store.db,
        "applications.delivery.label",
        viewer,
        to_global_id("Application", app.id),
        {"purpose": PURPOSE, "shipped": shipment is not None},
    )
    return Label(
        application_id=app.id,
        receipt_number=app.receipt_number or "",
        matter_name=app.matter_name,
        result_name=(app.result or {}).get("name"),
        recipient_name=opened["recipient_name"],
        phone=opened["phone"],
        region=opened["region"],
        line=opened["line"],
    )
