"""An operator cannot use campaign counts to learn whether a number is registered, or what is
known about a person: counts below the reporting threshold are a band, every preview is
audited, and a campaign with a phone list is accepted whether or not the numbers match."""

from __future__ import annotations

from app.audit import AUDIT_EVENTS
from notifications.campaigns import AudienceFigure, coarse_band
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import insert_citizens
from tests.notifications.test_campaigns import APPROVE, PREVIEW, _draft, _operators

REGISTERED = "13800000003"  # a demo person, tagged 老年人
UNREGISTERED = "13700000009"
CREATE = """mutation($input: CreateCampaignInput!) {
  createCampaign(input: $input) { campaign { id status } userErrors { field code } } }"""
STATS = """query($id: ID!) { campaign(id: $id) { status
  stats { targeted queued inboxed sent failed suppressed opened band } } }"""


async def test_a_one_number_preview_does_not_tell_whether_it_is_registered(api: Api) -> None:
    await create_demo_user(api.state, REGISTERED)
    creator, _ = await _operators(api)

    async def preview(target: dict[str, object]) -> dict[str, object]:
        return dict((await api.data(PREVIEW, {"target": target}, creator))["previewCampaign"])

    registered = await preview({"phones": [REGISTERED]})
    unregistered = await preview({"phones": [UNREGISTERED]})
    assert (
        registered
        == unregistered
        == {
            "audienceSize": None,
            "audienceBand": "<10",
            "userErrors": [],
        }
    )
    # Nor what is known about them: a narrow filter gets the same answer.
    assert (await preview({"phones": [REGISTERED], "tags": ["老年人"]}))["audienceBand"] == "<10"
    assert (await preview({"tags": ["老年人"]}))["audienceBand"] == "<10"

    audits = api.state.db[AUDIT_EVENTS].find({"action": "notifications.campaign.preview"})
    events = await audits.to_list(10)
    assert len(events) == 4
    assert all(e["actor_id"] is not None and e["details"]["result"] == "<10" for e in events)
    fingerprints = [e["details"]["target"] for e in events]
    assert len(set(fingerprints)) == 4  # which target was asked is on record
    assert REGISTERED not in str(events)  # as a hash of blind indexes, never the number


async def test_filter_counts_are_banded_below_a_thousand(api: Api) -> None:
    await insert_citizens(api.state, 12)
    creator, _ = await _operators(api)
    payload = (await api.data(PREVIEW, {"target": {"all": True}}, creator))["previewCampaign"]
    assert payload == {"audienceSize": None, "audienceBand": "10–99", "userErrors": []}


async def test_padding_a_phone_list_with_known_numbers_tells_nothing(api: Api) -> None:
    """Review 3 finding 2: 10 numbers known to be registered plus the one asked about answered
    11 or 10. Now a list is a band at every size, in the preview and in a draft's stats."""
    await create_demo_user(api.state, REGISTERED)
    known = [f"139{i:08d}" for i in range(10)]  # insert_citizens' phones: all registered
    await insert_citizens(api.state, 10)
    creator, checker = await _operators(api)

    async def preview(phones: list[str]) -> dict[str, object]:
        target = {"phones": phones}
        return dict((await api.data(PREVIEW, {"target": target}, creator))["previewCampaign"])

    registered = await preview([*known, REGISTERED])
    unregistered = await preview([*known, UNREGISTERED])
    assert (
        registered
        == unregistered
        == {
            "audienceSize": None,
            "audienceBand": "10–99",
            "userErrors": [],
        }
    )
    stats = []
    for phone in (REGISTERED, UNREGISTERED):
        draft = _draft({"phones": [*known, phone]})
        created = (await api.data(CREATE, draft, creator))["createCampaign"]
        figures = await api.data(STATS, {"id": created["campaign"]["id"]}, checker)
        stats.append(figures["campaign"]["stats"])
    assert stats[0] == stats[1]
    assert stats[0]["band"] == "10–99"
    assert stats[0]["targeted"] is None


def test_bands_from_the_threshold_up() -> None:
    assert [coarse_band(n, 10) for n in (0, 9, 10, 99, 100, 999)] == [
        "<10", "<10", "10–99", "10–99", "100–999", "100–999"
    ]  # fmt: skip
    assert [coarse_band(n, 10) for n in (1000, 1049, 1050, 12_345, 987_654)] == [
        "≈1000", "≈1000", "≈1100", "≈12000", "≈990000"
    ]  # fmt: skip
    assert AudienceFigure.of(1000, 10) == AudienceFigure(1000, "1000")  # filters: exact from 1000
    assert AudienceFigure.of(1000, 10, listed=True) == AudienceFigure(None, "≈1000")


async def test_a_small_campaign_shows_no_figures_before_or_after_approval(api: Api) -> None:
    await create_demo_user(api.state, REGISTERED)
    creator, checker = await _operators(api)
    # Accepted either way: "matches nobody" would tell that the number is not registered.
    ids = []
    for phone in (REGISTERED, UNREGISTERED):
        created = (await api.data(CREATE, _draft({"phones": [phone]}), creator))["createCampaign"]
        assert created["userErrors"] == []
        ids.append(created["campaign"]["id"])
    for campaign_id in ids:
        pending = (await api.data(STATS, {"id": campaign_id}, checker))["campaign"]
        assert pending["status"] == "PENDING_APPROVAL"
        assert pending["stats"] == {
            "targeted": None,
            "queued": None,
            "inboxed": None,
            "sent": None,
            "failed": None,
            "suppressed": None,
            "opened": None,
            "band": "<10",
        }
    approved = (await api.data(APPROVE, {"id": ids[0]}, checker))["approveCampaign"]
    assert approved["userErrors"] == []
    after = (await api.data(STATS, {"id": ids[0]}, creator))["campaign"]
    assert after["stats"]["band"] == "<10"
    assert after["stats"]["targeted"] is None
