"""Campaign targets that reach into other domains: licence holders (electronic_cards) and an
uploaded list of phone numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.context import AppState
from app.settings import Settings
from auth.dev_issuer import DevIssuer
from electronic_cards.service import LicenceSpec
from notifications.audience import AudienceReader
from notifications.errors import InvalidTargetError
from notifications.models import Target
from notifications.phone_list import parse_phone_list
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import INBOX
from tests.conftest import make_settings
from tests.factories import Api
from tests.notifications.conftest import dispatcher, insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CAMPAIGN, PREVIEW, _create, _operators


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path, oidc_issuer: DevIssuer) -> Settings:
    """Exact figures for these targeting tests' handful of citizens: the reporting threshold
    (ZSB_CAMPAIGN_MIN_REPORTED) is tested in tests/security/test_campaign_privacy.py."""
    return make_settings(
        mongo_uri, tmp_path, oidc_issuer=oidc_issuer.issuer, campaign_min_reported=1
    )


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

    assert await AudienceReader(api.state.db).count(Target(licence_type_code="JDCJSZ")) == 25
    assert (await preview({"licenceTypeCode": "JDCJSZ"}))["audienceBand"] == "10–99"
    assert (await preview({"licenceTypeCode": "JDCJSZ", "regionCodes": ["370202"]}))[
        "audienceBand"
    ] == "<1"  # nobody: below this module's threshold of 1
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


async def test_an_uploaded_phone_list_is_checked_kept_blind_and_reached(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    users = await insert_citizens(api.state, 5)  # phones 13900000000 … 13900000004
    creator, checker = await _operators(api)
    upload = "\ufeff手机号,姓名\n13900000000,张三\n+86 139-0000-0001,李四\n\n13900000001,重复\n"
    upload += "13800009999,未注册\n"

    async def preview(text: str) -> dict[str, object]:
        target = {"phoneList": text}
        return dict((await api.data(PREVIEW, {"target": target}, creator))["previewCampaign"])

    # Two of the three distinct numbers are registered; a list is only ever answered as a band.
    assert await preview(upload) == {"audienceSize": None, "audienceBand": "1–9", "userErrors": []}
    refused = await preview("13900000000\n1390000000\nabc\n13900000002\n")
    assert refused["audienceSize"] is None
    assert refused["userErrors"] == [{"field": "target.phoneList", "code": "INVALID_TARGET"}]
    message = (
        await api.gql(
            "mutation($t: CampaignTargetInput!) { previewCampaign(input: {target: $t}) "
            "{ userErrors { message } } }",
            {"t": {"phoneList": "13900000000\n1390000000\nabc\n"}},
            creator,
        )
    )["data"]["previewCampaign"]["userErrors"][0]["message"]
    assert "第 2、3 行" in message
    assert "1390000000" not in message  # rows are named, numbers are not echoed
    too_big = await preview("13900000000\n" * 30_000)
    assert too_big["userErrors"] == [{"field": "target.phoneList", "code": "INVALID_TARGET"}]

    campaign = await _create(api, creator, {"phoneList": upload})
    stored = await api.state.db["notification_campaigns"].find_one({})
    assert stored is not None
    assert "13900000000" not in str(stored)
    assert len(stored["target"]["phones"]) == 3  # blind indexes of the three distinct numbers
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    await dispatcher(api.state, fcm, clock).run_until_idle()
    reached = {d["user_id"] async for d in api.state.db[INBOX].find({})}
    assert reached == {users[0], users[1]}
    result = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert (result["status"], result["stats"]["sent"]) == ("DONE", 2)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_list_of_valid_numbers_or_a_typed_error(text: str) -> None:
    field = None
    try:
        phones: tuple[str, ...] = parse_phone_list(text)
    except InvalidTargetError as exc:
        field, phones = exc.field, ()
    if field is not None:
        assert field == "target.phoneList"
        return
    assert phones
    assert all(len(p) == 11 and p.isdigit() and p[0] == "1" for p in phones)
    assert len(set(phones)) == len(phones)
