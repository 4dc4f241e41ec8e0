"""The wallet through the API: masking, object-level authorisation, mint limits, PNG, grants,
delegations and correction tickets."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image

from electronic_cards import rendering
from tests.electronic_cards.helpers import (
    CREATE_QR_PNG,
    HOLDER,
    HOTEL,
    LICENCE,
    MY_LICENCES,
    OTHER,
    RECORDS,
    TRAFFIC,
    licence_id,
    mint,
    mint_text,
    seeded,
)
from tests.factories import Api


async def test_wallets_are_masked_and_private(api: Api) -> None:
    await seeded(api)
    await seeded(api)  # seeding again changes nothing
    holder = await api.token(HOLDER)
    other = await api.token(OTHER)
    mine = (await api.data(MY_LICENCES, token=holder))["myLicences"]
    assert len(mine) == 3
    assert {lic["type"]["code"] for lic in mine} >= {"JMSFZ", "JDCJSZ", "YYZZ"}
    id_card = next(lic for lic in mine if lic["type"]["code"] == "JMSFZ")
    assert id_card["holderName"] == "张*明"
    assert id_card["number"] == "3702**********1230"
    assert id_card["status"] == "VALID"
    business = next(lic for lic in mine if lic["type"]["code"] == "YYZZ")
    assert business["holderName"] == "青岛市市南区三明便利店"  # enterprise names are public
    assert business["number"] == "9237**********YZ1K"
    assert business["validUntil"] is None  # 长期
    driving = (await api.data("{ myLicences { type { code } faceData } }", token=holder))[
        "myLicences"
    ]
    assert {"driving_class": "C1"} in [lic["faceData"] for lic in driving]
    theirs = (await api.data(MY_LICENCES, token=other))["myLicences"]
    assert [lic["type"]["code"] for lic in theirs] == ["JMSFZ"]
    assert theirs[0]["holderName"] == "李*"

    lid = id_card["id"]
    # Another citizen can neither read, list the records of, mint, grant nor report it.
    assert (await api.data(LICENCE, {"id": lid}, token=other))["licence"] is None
    assert (await api.data(LICENCE, {"id": lid}, token=holder))["licence"]["id"] == lid
    listed = await api.gql(RECORDS, {"id": lid}, token=other)
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    minted = await mint(api, other, lid)
    assert minted["qr"] is None
    assert minted["userErrors"][0]["code"] == "NOT_FOUND"
    granted = await api.data(
        """mutation($id: ID!, $at: DateTime!) { grantLicenceUse(input: {licenceId: $id,
        organizationCode: "QD-HOTEL-HJHY", purpose: "入住", expiresAt: $at}) {
        grant { id } userErrors { code } } }""",
        {"id": lid, "at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        token=other,
    )
    assert granted["grantLicenceUse"]["userErrors"][0]["code"] == "NOT_FOUND"
    reported = await api.data(
        """mutation($id: ID!) { reportLicenceError(input: {licenceId: $id, description: "x"})
        { ticket { id } userErrors { code } } }""",
        {"id": lid},
        token=other,
    )
    assert reported["reportLicenceError"]["userErrors"][0]["code"] == "NOT_FOUND"
    # Citizens cannot change a licence's status; nor can an organisation that did not issue it.
    for token in (other, holder, await api.token(HOTEL)):
        refused = await api.gql(
            """mutation($id: ID!) { revokeLicence(input: {licenceId: $id, reason: "x"})
            { licence { status } } }""",
            {"id": lid},
            token=token,
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Malformed and wrong-type ids are the same NOT_FOUND / null, never a crash.
    assert (await mint(api, holder, "bm9wZQ"))["userErrors"][0]["code"] in ("INVALID_ID",)
    assert (await api.data(LICENCE, {"id": "garbage"}, token=holder))["licence"] is None
    anonymous = await api.gql(MY_LICENCES)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_minting_limits_and_assurance(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    other = await api.token(OTHER)
    business = await licence_id(api, holder, "YYZZ")
    texts = {await mint_text(api, holder, business) for _ in range(10)}
    assert len(texts) == 10  # every token is distinct (fresh cti and handle)
    eleventh = await mint(api, holder, business)
    assert eleventh["qr"] is None
    assert eleventh["userErrors"][0]["code"] == "RATE_LIMITED"
    # The limit is per licence: another licence of the same holder still mints.
    await mint_text(api, holder, await licence_id(api, holder, "JDCJSZ"))
    # 居民身份证 is sensitive: 李四 is only L2.
    refused = await mint(api, other, await licence_id(api, other, "JMSFZ"))
    assert refused["userErrors"][0]["code"] == "ASSURANCE_REQUIRED"


async def test_png_decodes_back_to_the_token(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    lid = await licence_id(api, holder, "JDCJSZ")
    for size in (120, 300, 640):
        payload = (await api.data(CREATE_QR_PNG, {"id": lid, "size": size}, token=holder))[
            "createLicenceQr"
        ]
        text = payload["qr"]["text"]
        image = Image.open(io.BytesIO(base64.b64decode(payload["qr"]["png"])))
        assert image.mode == "1"
        assert image.width <= size
        found = zxingcpp.read_barcodes(image)
        assert [r.text for r in found] == [text]
        assert found[0].ec_level == "M"
        assert rendering.codewords(text)[0] <= 8
    offline = await mint_text(api, holder, lid, "OFFLINE")
    image = Image.open(io.BytesIO(rendering.render_png(offline, 400)))
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [offline]
    assert rendering.codewords(offline)[0] <= 12
    too_big = await api.gql(CREATE_QR_PNG, {"id": lid, "size": 10_000}, token=holder)
    assert too_big["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


GRANT = """
mutation($id: ID!, $org: String!, $at: DateTime!) {
  grantLicenceUse(input: {licenceId: $id, organizationCode: $org, purpose: "住宿登记",
                          expiresAt: $at}) {
    grant { id organizationCode purpose expiresAt revokedAt }
    userErrors { field code }
  }
}"""

GRANTED = """
query($id: ID!) { grantedLicence(grantId: $id) { type { code } holderName number idNumber } }"""

DELEGATE = """
mutation($id: ID!, $phone: String!, $at: DateTime!) {
  delegateLicence(input: {licenceId: $id, delegatePhone: $phone, purpose: "代办变更登记",
                          expiresAt: $at}) {
    delegation { id purpose }
    userErrors { field code }
  }
}"""


async def test_grants_delegations_and_corrections(api: Api) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    other = await api.token(OTHER)
    clerk = await api.token(HOTEL)
    officer = await api.token(TRAFFIC)
    id_card = await licence_id(api, holder, "JMSFZ")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    bad = await api.data(
        GRANT, {"id": id_card, "org": "QD-HOTEL-HJHY", "at": "2020-01-01T00:00:00Z"}, holder
    )
    assert bad["grantLicenceUse"]["userErrors"][0]["field"] == "expiresAt"
    grant = (
        await api.data(GRANT, {"id": id_card, "org": "QD-HOTEL-HJHY", "at": tomorrow}, holder)
    )["grantLicenceUse"]["grant"]
    full = (await api.data(GRANTED, {"id": grant["id"]}, token=clerk))["grantedLicence"]
    assert full["holderName"] == "张三明"
    assert full["idNumber"] == "370202198506151230"
    # Only the granted organisation, and only until the holder revokes.
    assert (await api.data(GRANTED, {"id": grant["id"]}, token=officer))["grantedLicence"] is None
    revoked = await api.data(
        "mutation($id: ID!) { revokeLicenceGrant(input: {grantId: $id}) "
        "{ grant { revokedAt } userErrors { code } } }",
        {"id": grant["id"]},
        token=other,
    )
    assert revoked["revokeLicenceGrant"]["userErrors"][0]["code"] == "NOT_FOUND"
    revoked = await api.data(
        "mutation($id: ID!) { revokeLicenceGrant(input: {grantId: $id}) "
        "{ grant { revokedAt } userErrors { code } } }",
        {"id": grant["id"]},
        token=holder,
    )
    assert revoked["revokeLicenceGrant"]["grant"]["revokedAt"] is not None
    assert (await api.data(GRANTED, {"id": grant["id"]}, token=clerk))["grantedLicence"] is None
    records = await api.state.db["licence_usage_records"].find({"channel": "GRANT"}).to_list(10)
    assert len(records) == 1  # the one fetch that happened is in the holder's 用证记录

    # 委托用证: 李四 may show 张三明's business licence until the delegation is revoked.
    business = await licence_id(api, holder, "YYZZ")
    assert (await mint(api, other, business))["userErrors"][0]["code"] == "NOT_FOUND"
    nobody = await api.data(
        DELEGATE, {"id": business, "phone": "13999999999", "at": tomorrow}, holder
    )
    assert nobody["delegateLicence"]["userErrors"][0]["code"] == "INVALID_DELEGATE"
    made = await api.data(DELEGATE, {"id": business, "phone": OTHER, "at": tomorrow}, holder)
    delegation = made["delegateLicence"]["delegation"]
    shared = (await api.data("{ delegatedLicences { id type { code } } }", token=other))[
        "delegatedLicences"
    ]
    assert [lic["id"] for lic in shared] == [business]
    await mint_text(api, other, business)
    # A delegate shows the licence but does not own it: no grants, no records, no re-delegation.
    again = await api.data(DELEGATE, {"id": business, "phone": HOLDER, "at": tomorrow}, other)
    assert again["delegateLicence"]["userErrors"][0]["code"] == "NOT_FOUND"
    listed = await api.gql(RECORDS, {"id": business}, token=other)
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await api.data(
        "mutation($id: ID!) { revokeLicenceDelegation(input: {delegationId: $id}) "
        "{ delegation { id } userErrors { code } } }",
        {"id": delegation["id"]},
        token=holder,
    )
    assert (await mint(api, other, business))["userErrors"][0]["code"] == "NOT_FOUND"

    ticket = await api.data(
        """mutation($id: ID!) { reportLicenceError(input: {licenceId: $id,
        description: "经营场所地址有误"}) { ticket { id status } userErrors { code } } }""",
        {"id": business},
        token=holder,
    )
    assert ticket["reportLicenceError"]["ticket"]["status"] == "OPEN"
    empty = await api.data(
        """mutation($id: ID!) { reportLicenceError(input: {licenceId: $id, description: "  "})
        { ticket { id } userErrors { field code } } }""",
        {"id": business},
        token=holder,
    )
    assert empty["reportLicenceError"]["userErrors"][0]["field"] == "description"
    # The traffic police issued the driving licence, not the business licence.
    refused = await api.gql(
        """mutation($id: ID!) { suspendLicence(input: {licenceId: $id, reason: "x"})
        { licence { status } } }""",
        {"id": business},
        token=officer,
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
