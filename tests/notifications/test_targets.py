"""Campaign targets that reach into other domains: licence holders (electronic_cards) and an
uploaded list of phone numbers."""

from __future__ import annotations

from datetime import date

from bson import ObjectId

from app.context import AppState
from electronic_cards.service import LicenceSpec
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import INBOX
from tests.factories import Api
from tests.notifications.conftest import dispatcher, insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CAMPAIGN, PREVIEW, _create, _operators


async def _issue(state: AppState, holder: ObjectId, type_code: str, until: date | None) -> None:
    await state.cards_service().issue_licence(
        holder,
        LicenceSpec(
            type_code=type_code,
            holder_name="测试",
            number=f"N{holder}",
            issuer="青岛市公安局",
            issuer_code="370200",
            valid_from=date(2020, 1, 1),
            valid_until=until,
        ),
    )


async def test_a_licence_type_targets_its_valid_holders_only(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    users = await insert_citizens(api.state, 30)
    holders = users[:25]
    for uid in holders:
        await _issue(api.state, uid, "JDCJSZ", date(2030, 1, 1))
    await _issue(api.state, users[25], "JDCJSZ", date(2021, 1, 1))  # expired
    await _issue(api.state, users[26], "JDCXSZ", None)  # another type
    creator, checker = await _operators(api)

    async def preview(target: dict[str, object]) -> dict[str, object]:
        return dict((await api.data(PREVIEW, {"target": target}, creator))["previewCampaign"])

    assert (await preview({"licenceTypeCode": "JDCJSZ"}))["audienceSize"] == 25
    assert (await preview({"licenceTypeCode": "JDCJSZ", "regionCodes": ["370202"]}))[
        "audienceSize"
    ] == 0
    unknown = await preview({"licenceTypeCode": "NOPE"})
    assert unknown["userErrors"] == [{"field": "target.licenceTypeCode", "code": "INVALID_TARGET"}]

    campaign = await _create(api, creator, {"licenceTypeCode": "JDCJSZ"})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    # Pages of 20 holders: the walk over holders takes two planning steps.
    await dispatcher(api.state, fcm, clock, chunks_per_plan_step=1).run_until_idle()
    reached = {d["user_id"] async for d in api.state.db[INBOX].find({})}
    assert reached == set(holders)
    result = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert (result["status"], result["stats"]["targeted"], result["stats"]["sent"]) == (
        "DONE",
        25,
        25,
    )
    assert len(fcm_server.accepted) == 25
