"""Strawberry types of 出证 and 结果送达: the typed `Application.result` and its delivery.

Addresses are shown masked to everyone (the applicant included): the masked copy stored with
the case, never the sealed original.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from app.db import Document
from app.ids import to_global_id
from applications import models
from applications.results import licence_pending
from applications.shipping import Carrier
from applications.workflow import Status
from matters import types as _matter_types  # noqa: F401 - registers ResultDeliveryMethod first
from matters.models import ResultDelivery

CarrierCode = strawberry.enum(
    Carrier, name="Carrier", description="Courier of a posted result (EMS also for 政务专递)."
)


@strawberry.enum(description="Where a result's delivery stands.")
class DeliveryStatus(Enum):
    AWAITING_DECISION = "AWAITING_DECISION"
    NOT_ISSUED = "NOT_ISSUED"  # rejected or withdrawn: no result
    REVOKED = "REVOKED"  # the approval was revoked (撤销)
    PENDING = "PENDING"  # approved; the e-licence is still on its way to the wallet
    DELIVERED = "DELIVERED"  # electronic: in the wallet (or the decision itself is the result)
    READY_TO_SHIP = "READY_TO_SHIP"
    SHIPPED = "SHIPPED"
    RECEIVED = "RECEIVED"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    COLLECTED = "COLLECTED"


@strawberry.input(description="邮寄送达: where the paper result is posted to.")
class DeliveryAddressInput:
    recipient_name: str | None = strawberry.field(default=None, description="收件人 (≤ 30).")
    phone: str | None = strawberry.field(default=None, description="收件人手机号码.")
    region: str | None = strawberry.field(
        default=None, description="所在地区: county-level 行政区划代码 (6 digits, e.g. 370202)."
    )
    line: str | None = strawberry.field(
        default=None, description="详细地址: street, number, building, room (5–120)."
    )


@strawberry.input(description="结果送达: how the result reaches the applicant.")
class ResultDeliveryInput:
    method: ResultDelivery = strawberry.field(
        description="One of the matter's `resultDeliveryMethods`."
    )
    address: DeliveryAddressInput | None = strawberry.field(
        default=None, description="Required for POST; ignored (not stored) otherwise."
    )


def delivery_raw(value: ResultDeliveryInput | None) -> dict[str, Any] | None:
    """The input as the service checks it (`delivery.checked_choice`)."""
    if value is None:
        return None
    raw: dict[str, Any] = {"method": value.method.name}
    if value.address is not None:
        a = value.address
        raw["address"] = {
            "recipientName": a.recipient_name,
            "phone": a.phone,
            "region": a.region,
            "line": a.line,
        }
    return raw


@strawberry.type(description="A postal address, masked (收件人 张*明, 138****0001).")
class DeliveryAddress:
    recipient_name: str | None = strawberry.field(description="Masked recipient name.")
    phone: str | None = strawberry.field(description="Masked phone.")
    region: str = strawberry.field(description="County-level 行政区划代码.")
    line: str | None = strawberry.field(description="Masked street line.")


@strawberry.type(
    description="打印面单: the full postal address of a case awaiting posting, for its waybill "
    "(`shippingLabel`; clerks of the handling department, audited, time-limited)."
)
class ShippingLabel:
    application_id: strawberry.ID = strawberry.field(description="The case.")
    receipt_number: str = strawberry.field(description="受理编号 (寄件内容 reference).")
    matter_name: str = strawberry.field(description="The matter.")
    result_name: str | None = strawberry.field(description="审批结果名称, when named.")
    recipient_name: str = strawberry.field(description="收件人, in full.")
    phone: str = strawberry.field(description="收件人手机号码, in full.")
    region: str = strawberry.field(description="County-level 行政区划代码.")
    line: str = strawberry.field(description="详细地址, in full.")


@strawberry.type(description="结果送达: the chosen method and where it stands.")
class ResultDeliveryInfo:
    method: ResultDelivery = strawberry.field(description="ELECTRONIC, POST or PICKUP.")
    status: DeliveryStatus = strawberry.field(description="Where the delivery stands.")
    carrier: Carrier | None = strawberry.field(description="POST: the courier, once shipped.")
    tracking_number: str | None = strawberry.field(description="POST: the waybill number.")
    shipped_at: datetime | None = strawberry.field(description="POST: when it was shipped.")
    received_at: datetime | None = strawberry.field(description="POST: receipt confirmed.")
    collected_at: datetime | None = strawberry.field(description="PICKUP: handed over.")
    address: DeliveryAddress | None = strawberry.field(description="POST: masked address.")


def delivery_status(app: models.Application, method: str, doc: Document) -> DeliveryStatus:
    if app.status is Status.REVOKED:
        return DeliveryStatus.REVOKED
    if app.status in (Status.REJECTED, Status.WITHDRAWN):
        return DeliveryStatus.NOT_ISSUED
    if app.status is not Status.APPROVED:
        return DeliveryStatus.AWAITING_DECISION
    if method == "POST":
        if doc.get("received_at"):
            return DeliveryStatus.RECEIVED
        return DeliveryStatus.SHIPPED if doc.get("shipment") else DeliveryStatus.READY_TO_SHIP
    if method == "PICKUP":
        collected = doc.get("collected_at")
        return DeliveryStatus.COLLECTED if collected else DeliveryStatus.READY_FOR_PICKUP
    pending = app.result_pending or licence_pending(app.result)
    return DeliveryStatus.PENDING if pending else DeliveryStatus.DELIVERED


def delivery_info(app: models.Application) -> ResultDeliveryInfo:
    doc = app.delivery or {"method": "ELECTRONIC"}  # cases from before the choice existed
    method = str(doc.get("method") or "ELECTRONIC")
    shipment = doc.get("shipment") or {}
    address = doc.get("address")
    masked = (address or {}).get("masked") or {}
    return ResultDeliveryInfo(
        method=ResultDelivery[method],
        status=delivery_status(app, method, doc),
        carrier=Carrier[shipment["carrier"]] if shipment else None,
        tracking_number=shipment.get("tracking_number"),
        shipped_at=shipment.get("shipped_at"),
        received_at=doc.get("received_at"),
        collected_at=doc.get("collected_at"),
        address=DeliveryAddress(
            recipient_name=masked.get("recipient_name"),
            phone=masked.get("phone"),
            region=address["region"],
            line=masked.get("line"),
        )
        if address
        else None,
    )


@strawberry.type(description="出证: the result of an approval (an e-licence, or a paper result).")
class ApplicationResult:
    app: strawberry.Private[models.Application]

    def _doc(self) -> Document:
        return self.app.result or {}

    @strawberry.field(description="审批结果名称 (e.g. 退役军人优待证); null if none is named.")
    def name(self) -> str | None:
        return self._doc().get("name")

    @strawberry.field(description="E-licence type code (wallet registry) when it is an e-licence.")
    def licence_type_code(self) -> str | None:
        return self._doc().get("type_code")

    @strawberry.field(description="持证人 as on the licence.")
    def holder_name(self) -> str | None:
        return self._doc().get("holder_name")

    @strawberry.field(description="Licence number (the case's receipt number).")
    def number(self) -> str | None:
        return self._doc().get("number")

    @strawberry.field(description="颁发机构.")
    def issuer(self) -> str | None:
        return self._doc().get("issuer")

    @strawberry.field(description="Valid from (China date).")
    def valid_from(self) -> date | None:
        value = self._doc().get("valid_from")
        return date.fromisoformat(value) if value else None

    @strawberry.field(description="Valid until; null when open-ended.")
    def valid_until(self) -> date | None:
        value = self._doc().get("valid_until")
        return date.fromisoformat(value) if value else None

    @strawberry.field(description="The licence in the holder's wallet (`licence(id)`), once there.")
    def licence_id(self) -> strawberry.ID | None:
        channel = str(self._doc().get("delivery") or "")
        if not channel.startswith("WALLET:"):
            return None
        return strawberry.ID(to_global_id("Licence", channel.removeprefix("WALLET:")))

    @strawberry.field(description="When the e-licence reached the wallet.")
    def delivered_at(self) -> datetime | None:
        return self._doc().get("delivered_at")

    @strawberry.field(description="结果送达: method, status, tracking and the masked address.")
    def delivery(self) -> ResultDeliveryInfo:
        return delivery_info(self.app)
