"""Mutations of 结果送达 (thin: each calls `shipping.ShippingDesk`). Merged in `app/schema.py`.

`recordShipment` and `recordPickup` for clerks of the handling department, `confirmReceipt` for
the applicant; the query `shippingLabel` (applications/labels.py) for the clerk who writes the
waybill. The case shows the outcome under `application(id) { result { delivery { … } } }`.
"""

from __future__ import annotations

from typing import Any

import strawberry
from bson import ObjectId
from strawberry.types import Info

from app.api_types import UserError, run_mutation
from app.context import Context
from app.ids import object_id_from_global, to_global_id
from app.pagination import Connection, Edge
from applications.delivery_types import ShippingLabel
from applications.inputs import _typed
from applications.labels import shipping_label
from applications.shipping import Carrier, ShippingDesk
from applications.types import Application
from auth.models import Role


@strawberry.input(description="邮寄送达: the courier and waybill number of a posted result.")
class RecordShipmentInput:
    application_id: strawberry.ID = strawberry.field(description="An APPROVED case with POST.")
    carrier: Carrier = strawberry.field(description="The courier.")
    tracking_number: str = strawberry.field(
        description="运单号 in the carrier's format; a second call corrects it (recorded)."
    )


@strawberry.input(description="窗口领取: the paper result was handed over at the hall.")
class RecordPickupInput:
    application_id: strawberry.ID = strawberry.field(description="An APPROVED case with PICKUP.")


@strawberry.input(description="The applicant confirms the posted result arrived.")
class ConfirmReceiptInput:
    application_id: strawberry.ID = strawberry.field(description="One's own shipped case.")


def _payload(name: str, verb: str) -> type:
    @strawberry.type(name=name, description=f"Result of {verb}.")
    class Payload:
        application: Application | None = strawberry.field(
            default=None, description="The case after the change."
        )
        user_errors: list[UserError] = strawberry.field(
            default_factory=list, description="Expected failures."
        )

    return Payload


RecordShipmentPayload: Any = _payload("RecordShipmentPayload", "recordShipment")
RecordPickupPayload: Any = _payload("RecordPickupPayload", "recordPickup")
ConfirmReceiptPayload: Any = _payload("ConfirmReceiptPayload", "confirmReceipt")


def _app_id(value: strawberry.ID) -> ObjectId:
    return object_id_from_global(str(value), "Application", field="applicationId")


@strawberry.type
class Query:
    @strawberry.field(
        description="待邮寄 (clerks): approved cases whose paper result is to be posted and is not "
        "shipped yet, of departments they may process, longest waiting first."
    )
    async def shipping_queue(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Application]:
        viewer = info.context.require_viewer()
        page = await _typed(ShippingDesk(info.context.applications).queue(viewer, first, after))
        return Connection(
            edges=[Edge(node=Application(app=e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )

    @strawberry.field(
        description="打印面单 (clerks of the handling department): the full address of an "
        "approved POST case, to write its waybill; until receipt and at most 7 days after "
        "dispatch. Each read is audited (purpose 寄递) and budgeted."
    )
    async def shipping_label(
        self, info: Info[Context, None], application_id: strawberry.ID
    ) -> ShippingLabel:
        viewer = info.context.require_viewer()
        viewer.require_role(Role.CLERK)  # a citizen spends no budget and learns nothing
        info.context.take_budget("shippingLabel")
        label = await shipping_label(info.context.applications, viewer, _app_id(application_id))
        return ShippingLabel(
            application_id=strawberry.ID(to_global_id("Application", label.application_id)),
            receipt_number=label.receipt_number,
            matter_name=label.matter_name,
            result_name=label.result_name,
            recipient_name=label.recipient_name,
            phone=label.phone,
            region=label.region,
            line=label.line,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="邮寄送达: record (or correct) the shipment of an approved case's paper "
        "result. Clerks of its department; the applicant is told the tracking number."
    )
    async def record_shipment(
        self, info: Info[Context, None], input: RecordShipmentInput
    ) -> RecordShipmentPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await ShippingDesk(info.context.applications).record_shipment(
                viewer,
                _app_id(input.application_id),
                input.carrier,
                input.tracking_number,
            )
            return RecordShipmentPayload(application=Application(app=app))

        return await run_mutation(RecordShipmentPayload, act)

    @strawberry.mutation(description="窗口领取: record the hand-over of a paper result. Clerks.")
    async def record_pickup(
        self, info: Info[Context, None], input: RecordPickupInput
    ) -> RecordPickupPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await ShippingDesk(info.context.applications).record_pickup(
                viewer,
                _app_id(input.application_id),
            )
            return RecordPickupPayload(application=Application(app=app))

        return await run_mutation(RecordPickupPayload, act)

    @strawberry.mutation(description="Confirm that one's posted result arrived (once).")
    async def confirm_receipt(
        self, info: Info[Context, None], input: ConfirmReceiptInput
    ) -> ConfirmReceiptPayload:
        viewer = info.context.require_viewer()

        async def act() -> Any:
            app = await ShippingDesk(info.context.applications).confirm_receipt(
                viewer,
                _app_id(input.application_id),
            )
            return ConfirmReceiptPayload(application=Application(app=app))

        return await run_mutation(ConfirmReceiptPayload, act)
