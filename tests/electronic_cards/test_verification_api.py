"""verifyLicenceQr through the API: every spec §6 result code, records and holder events."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from app.ids import object_id_from_global
from auth.models import AssuranceLevel, Organization, Role
from auth.service import UserSpec
from electronic_cards import base45, sdl1
from electronic_cards.keys import SdlKey, kid_of
from tests.electronic_cards.helpers import (
    ADMIN,
    HOLDER,
    HOTEL,
    RECORDS,
    TRAFFIC,
    change_status,
    licence_id,
    mint,
    mint_text,
    records,
    seeded,
    verify,
)
from tests.factories import Api, create_user

SECOND_OFFICER = UserSpec(
    "13800000111",
    (Role.VERIFIER,),
    AssuranceLevel.L3,
    "钱警官",
    None,
    "370213",
    organization=Organization("QD-GAJ-LSFJ", "青岛市公安局崂山分局"),
    scenes=("TRAFFIC_CHECK",),
)


def _resign(api: Api, text: str, key: object = None, **changes: object) -> str:
    """The same token with changed claims, signed by the server's key (or `key`)."""
    decoded = sdl1.decode_token(text)
    claims = dataclasses.replace(decoded.claims, **changes)  # type: ignore[arg-type]
    signer = key or api.state.sdl_keys.signing_key(datetime.now(UTC))
    return sdl1.encode_token(claims, signer)  # type: ignore[arg-type]


def _foreign_key() -> SdlKey:
    private = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return SdlKey(kid_of(private.public_key()), private, private.public_key(), now, now, None)


async def test_every_result_code_in_order(api: Api) -> None:
    await seeded(api)
    await create_user(api.state, SECOND_OFFICER)
    holder = await api.token(HOLDER)
    officer = await api.token(TRAFFIC)
    other_officer = await api.token(SECOND_OFFICER.phone)
    clerk = await api.token(HOTEL)
    admin = await api.token(ADMIN)
    driving = await licence_id(api, holder, "JDCJSZ")
    id_card = await licence_id(api, holder, "JMSFZ")

    text = await mint_text(api, holder, driving)
    valid = await verify(api, officer, text, "TRAFFIC_CHECK")
    assert valid["result"] == "VALID"
    shown = valid["licence"]
    assert shown["type"] == {"code": "JDCJSZ", "name": "机动车驾驶证"}
    assert shown["holderName"] == "张*明"
    assert shown["number"] == "3702**********1230"
    assert shown["validUntil"] == "2031-03-01"
    # The same officer scanning again gets the first answer again; another officer is refused.
    assert (await verify(api, officer, text, "TRAFFIC_CHECK"))["licence"] == shown
    replayed = await verify(api, other_officer, text, "TRAFFIC_CHECK")
    assert replayed["result"] == "REPLAYED"
    assert replayed["licence"] is None

    # A hotel clerk may check identity cards, not driving licences, and not in traffic scenes.
    fresh = await mint_text(api, holder, driving)
    assert (await verify(api, clerk, fresh, "HOTEL_CHECKIN"))["result"] == "NOT_AUTHORISED"
    assert (await verify(api, clerk, fresh, "TRAFFIC_CHECK"))["result"] == "NOT_AUTHORISED"
    # NOT_AUTHORISED does not consume: the officer the code was shown to still gets VALID.
    assert (await verify(api, officer, fresh, "TRAFFIC_CHECK"))["result"] == "VALID"

    now = int(time.time())
    assert (await verify(api, officer, "SDL1:not base45!", "TRAFFIC_CHECK"))[
        "result"
    ] == "MALFORMED"
    unknown = _resign(api, fresh, key=_foreign_key())
    assert (await verify(api, officer, unknown, "TRAFFIC_CHECK"))["result"] == "UNKNOWN_KEY"
    raw = bytearray(base45.decode(fresh[5:]))
    raw[-1] ^= 0x01  # the last byte of the signature
    forged = "SDL1:" + base45.encode(bytes(raw))
    assert (await verify(api, officer, forged, "TRAFFIC_CHECK"))["result"] == "INVALID_SIGNATURE"
    early = _resign(api, fresh, iat=now + 120, exp=now + 180, cti=os.urandom(8))
    assert (await verify(api, officer, early, "TRAFFIC_CHECK"))["result"] == "NOT_YET_VALID"
    late = _resign(api, fresh, iat=now - 200, exp=now - 140, cti=os.urandom(8))
    assert (await verify(api, officer, late, "TRAFFIC_CHECK"))["result"] == "EXPIRED"

    # Live status, online at once: suspended by the issuing organisation, revoked by an admin.
    before_suspension = await mint_text(api, holder, driving)
    suspended = await change_status(api, officer, "suspendLicence", driving)
    assert suspended["licence"]["status"] == "SUSPENDED"
    assert (await verify(api, officer, before_suspension, "TRAFFIC_CHECK"))["result"] == "SUSPENDED"
    refused = await mint(api, holder, driving)
    assert refused["qr"] is None
    assert refused["userErrors"][0]["code"] == "LICENCE_SUSPENDED"
    assert (await change_status(api, officer, "reinstateLicence", driving))["licence"][
        "status"
    ] == "VALID"
    before_revocation = await mint_text(api, holder, driving)
    assert (await change_status(api, admin, "revokeLicence", driving))["licence"][
        "status"
    ] == "REVOKED"
    assert (await verify(api, officer, before_revocation, "TRAFFIC_CHECK"))["result"] == "REVOKED"
    assert (await mint(api, holder, driving))["userErrors"][0]["code"] == "LICENCE_REVOKED"
    again = await change_status(api, officer, "reinstateLicence", driving)
    assert again["userErrors"][0]["code"] == "INVALID_TRANSITION"

    # A licence past its validity: EXPIRED online, and no new codes.
    id_text = await mint_text(api, holder, id_card)
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    await api.state.db["licences"].update_one(
        {"_id": object_id_from_global(id_card, "Licence")}, {"$set": {"valid_until": yesterday}}
    )
    assert (await verify(api, clerk, id_text, "HOTEL_CHECKIN"))["result"] == "EXPIRED"
    assert (await mint(api, holder, id_card))["userErrors"][0]["code"] == "LICENCE_EXPIRED"

    # Every attempt left a record the holder sees, newest first, values never stored.
    seen = await records(api, holder, driving)
    assert [r["result"] for r in seen] == [
        "REVOKED",
        "SUSPENDED",
        "EXPIRED",
        "NOT_YET_VALID",
        "VALID",
        "NOT_AUTHORISED",
        "NOT_AUTHORISED",
        "REPLAYED",
        "VALID",
        "VALID",
    ]
    first = seen[-1]
    assert first["verifierOrganization"]["name"] == "青岛市公安局交通警察支队"
    assert first["scene"] == "TRAFFIC_CHECK"
    assert "holderName" in first["fieldsDisclosed"]
    assert [r["flagged"] for r in seen].count(True) == 3
    # MALFORMED, UNKNOWN_KEY and INVALID_SIGNATURE name no licence we can trust: recorded, but
    # not attributed to this holder.
    stored = api.state.db["licence_usage_records"]
    assert await stored.count_documents({"result": "MALFORMED", "licence_id": None}) == 1
    assert await stored.count_documents({"result": "UNKNOWN_KEY"}) == 1
    assert await stored.count_documents({"result": "INVALID_SIGNATURE"}) == 1
    doc = await stored.find_one({"result": "VALID"})
    assert doc is not None
    assert "张" not in str(doc)  # names of fields, not their values
    events = api.state.db["licence_events"]
    assert await events.count_documents({"kind": "LICENCE_CHECK_FLAGGED"}) == 3
    assert await events.count_documents({"kind": "LICENCE_CHECKED"}) == 8  # incl. id card
    assert await events.count_documents({"kind": "LICENCE_SUSPENDED"}) == 1

    page = await api.data(RECORDS, {"id": driving, "first": 4}, token=holder)
    connection = page["licenceUsageRecords"]
    assert connection["pageInfo"]["hasNextPage"] is True
    rest = await api.data(
        RECORDS,
        {"id": driving, "first": 100, "after": connection["pageInfo"]["endCursor"]},
        token=holder,
    )
    assert len(rest["licenceUsageRecords"]["nodes"]) == 6


async def test_offline_token_checked_online_and_bad_inputs(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    clerk = await api.token(HOTEL)
    id_card = await licence_id(api, holder, "JMSFZ")
    text = await mint_text(api, holder, id_card, "OFFLINE")
    assert len(text) <= 400
    claims = sdl1.decode_token(text).claims
    assert claims.nm == "张*明"
    assert claims.idn == "3702**********1230"
    answer = await verify(api, clerk, text, "HOTEL_CHECKIN")
    assert answer["result"] == "VALID"
    assert answer["licence"]["disclosedFields"] == ["holderName", "number", "validUntil", "status"]
    assert answer["licence"]["idNumber"] is None  # not in the hotel scene's profile

    bad_scene = await verify(api, clerk, text, "hotel checkin")
    assert bad_scene["userErrors"][0]["field"] == "scene"
    huge = await verify(api, clerk, "SDL1:" + "A" * 20_000, "HOTEL_CHECKIN")
    assert huge["userErrors"][0]["field"] == "text"
    # A citizen account is not a verifier: a top-level FORBIDDEN, and nothing recorded.
    payload = await api.gql(
        'mutation($t: String!) { verifyLicenceQr(input: {text: $t, scene: "HOTEL_CHECKIN"}) '
        "{ result } }",
        {"t": text},
        token=holder,
    )
    assert payload["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await api.state.db["licence_usage_records"].count_documents({}) == 1


async def test_races_first_scan_wins_and_mint_limit_holds(api: Api) -> None:
    import asyncio

    await seeded(api)
    await create_user(api.state, SECOND_OFFICER)
    holder = await api.token(HOLDER)
    officers = [await api.token(TRAFFIC), await api.token(SECOND_OFFICER.phone)]
    business = await licence_id(api, holder, "YYZZ")
    driving = await licence_id(api, holder, "JDCJSZ")
    for _ in range(3):
        text = await mint_text(api, holder, driving)
        answers = await asyncio.gather(
            *(verify(api, officer, text, "TRAFFIC_CHECK") for officer in officers)
        )
        assert sorted(a["result"] for a in answers) == ["REPLAYED", "VALID"]
    minted = await asyncio.gather(*(mint(api, holder, business) for _ in range(14)))
    codes = [m["userErrors"][0]["code"] if m["userErrors"] else "OK" for m in minted]
    assert codes.count("OK") == 10
    assert codes.count("RATE_LIMITED") == 4


async def test_expiry_reminders_are_recorded_once(api: Api) -> None:
    from electronic_cards.models import today_in_china
    from electronic_cards.service import LicenceSpec

    await seeded(api)
    cards = api.state.cards_service()
    holder = await api.state.auth_service().find_user_by_phone(HOLDER)
    assert holder is not None
    now = datetime.now(UTC)
    soon = today_in_china(now) + timedelta(days=7)
    await cards.issue_licence(
        holder.id,
        LicenceSpec(
            "JSZGZ",
            "张三明",
            "20233702000123",
            "青岛市教育局",
            "QD-JYJ",
            soon - timedelta(days=3650),
            soon,
        ),
    )
    assert await cards.record_expiry_reminders(now) == 1
    assert await cards.record_expiry_reminders(now) == 0  # idempotent per licence and day
    event = await api.state.db["licence_events"].find_one({"kind": "LICENCE_EXPIRY_REMINDER"})
    assert event is not None
    assert event["data"]["days"] == 7
    token = await api.token(HOLDER)
    inbox = await api.data("{ inbox(first: 10) { nodes { category body } } }", token=token)
    reminders = [m for m in inbox["inbox"]["nodes"] if m["category"] == "REMINDER"]
    assert len(reminders) == 1  # told once, though the check ran twice
    assert "教师资格证" in reminders[0]["body"]


async def test_checks_reach_the_holders_inbox(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    officer = await api.token(TRAFFIC)
    hotel = await api.token(HOTEL)
    driving = await licence_id(api, holder, "JDCJSZ")
    text = await mint_text(api, holder, driving)
    assert (await verify(api, officer, text, "TRAFFIC_CHECK"))["result"] == "VALID"
    assert (await verify(api, hotel, text, "HOTEL_CHECKIN"))["result"] != "VALID"
    inbox = await api.data(
        "{ inbox(first: 10) { nodes { title body category deepLink } } }", token=holder
    )
    messages = inbox["inbox"]["nodes"]
    bodies = sorted(m["body"] for m in messages)
    assert len(messages) == 2
    assert all(m["category"] == "LICENCE" for m in messages)
    assert any("青岛市公安局交通警察支队" in b and "机动车驾驶证" in b for b in bodies)
    assert any("未通过" in b for b in bodies)
    assert all(m["deepLink"] == f"zsb://licences/{driving}" for m in messages)
