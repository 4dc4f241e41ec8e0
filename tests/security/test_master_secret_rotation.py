"""A real master-secret rotation on the test database: data sealed under secret A, the service
moved to secret B while still reading A, `reseal` run in pieces and again, then B alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app import sealing
from app.audit import AUDIT_EVENTS
from app.ids import object_id_from_global
from app.keyring import Keyring
from app.reseal import PROGRESS, reseal
from app.settings import Settings
from applications import form_sealing
from applications.delivery import PURPOSE as DELIVERY_PURPOSE
from applications.delivery import open_address, seal_address
from applications.drafts import DRAFT_DELIVERY
from applications.flow_store import BUNDLES
from applications.grant_phones import GRANT_PHONE_PURPOSE
from applications.store import APPLICATIONS
from auth.dev_issuer import DevIssuer
from auth.models import AssuranceLevel, Role
from auth.service import UserSpec
from auth.user_store import USERS
from electronic_cards.demo import seed_demo_licences
from electronic_cards.store import LICENCES, SDL_KEYS
from notifications.campaign_store import CAMPAIGNS
from tests.conftest import make_settings, running_api
from tests.factories import Api, create_demo_user, create_user
from tests.notifications.test_campaigns import _draft

SECRET_A = "rotation-secret-A-" + "a" * 40
SECRET_B = "rotation-secret-B-" + "b" * 40
CITIZEN = "13800000001"
ELDER = "13800000003"
OPERATOR = "13800000301"
GRANT = """mutation($input: GrantAgencyInput!) {
  grantAgency(input: $input) { grant { id } userErrors { code } } }"""
TO_ME = "{ agencyGrantsToMe { id } }"
CREATE = """mutation($input: CreateCampaignInput!) {
  createCampaign(input: $input) { campaign { id } userErrors { code } } }"""
REFRESH = """mutation($t: String!) { refreshSession(input: {refreshToken: $t}) {
  accessToken userErrors { code } } }"""
EXPORT = "{ exportMyData }"
FORM = {"idNumber": "370202198506151230", "phone": CITIZEN, "name": "张三明"}
FORM_FIELDS = {"idNumber": "id-number", "phone": "phone"}


def _settings(base: Settings, tmp: Path, secret: str, read: list[str]) -> Settings:
    return make_settings(
        str(base.mongodb_uri),
        tmp,
        database_name=base.database_name,
        secret_key=secret,
        read_secret_keys=read,
        oidc_issuer=base.oidc_issuer,
        rate_limits="off",
    )


async def _sealed_under_a(api: Api) -> dict[str, str]:
    for phone in (CITIZEN, ELDER, OPERATOR):
        await create_demo_user(api.state, phone)
    await seed_demo_licences(api.state.auth_service(), api.state.cards_service())
    elder = await api.token(ELDER)
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    granted = await api.data(GRANT, {"input": {"agentPhone": CITIZEN, "expiresAt": until}}, elder)
    assert granted["grantAgency"]["userErrors"] == []
    operator = await api.token(OPERATOR)
    created = await api.data(CREATE, _draft({"phones": [CITIZEN, ELDER]}), operator)
    assert created["createCampaign"]["userErrors"] == []
    # A case with a 结果送达 address and a draft with a saved choice, both sealed under A.
    address = {
        "recipient_name": "张三",
        "phone": CITIZEN,
        "region": "370202",
        "line": "香港中路1号",
    }
    ring = api.state.keyring
    posted = {"method": "POST", "address": seal_address(address, ring)}
    draft = sealing.encrypt(ring.delivery_address, '{"method": "PICKUP"}', DRAFT_DELIVERY)
    # A case whose form holds an identity number and a phone (sealed, masked in `form`).
    form = form_sealing.sealed(FORM_FIELDS, FORM, ring)
    await api.state.db[APPLICATIONS].insert_many(
        [
            {"idempotency_key": "rotation-1", "status": "APPROVED", "delivery": posted},
            {"idempotency_key": "rotation-2", "status": "DRAFT", "draft_delivery": draft},
            {"idempotency_key": "rotation-4", "status": "SUBMITTED", **form},
            # Stored before forms were sealed: the reseal seals it.
            {"idempotency_key": "rotation-5", "status": "SUBMITTED", "form": dict(FORM)},
        ]
    )
    # A 一件事 bundle whose members are not all created yet keeps the sealed address too.
    request = {
        "delivery": {"by_matter": {"x": "POST"}, "address": seal_address(address, ring)},
        **form_sealing.sealed(FORM_FIELDS, FORM, ring),
    }
    await api.state.db[BUNDLES].insert_one(
        {"idempotency_key": "rotation-3", "state": "SUBMITTING", "request": request}
    )
    signed_in = await api.login(CITIZEN)
    return {"access": signed_in["accessToken"], "refresh": signed_in["refreshToken"]}


async def _everything_under(api: Api, master: str) -> None:
    """Every sealed field opens under `master` alone, and every index is `master`'s."""
    ring = Keyring.from_master(master.encode())
    db = api.state.db
    async for user in db[USERS].find({}):
        phone = sealing.decrypt(ring.phone_encryption, user["phone_cipher"], "phone")
        assert user["phone_index"] == sealing.blind_index(ring.phone_index, phone)
        if user.get("id_number_cipher"):
            number = sealing.decrypt(
                ring.identity_encryption, user["id_number_cipher"], "identity-number"
            )
            assert user["id_number_index"] == sealing.blind_index(ring.identity_index, number)
    licences = await db[LICENCES].find({}).to_list(100)
    assert licences
    for licence in licences:
        sealing.decrypt(ring.licence_data, licence["number_cipher"], "licence-data")
    async for key in db["auth_signing_keys"].find({}):
        sealing.unwrap_private_key(ring.signing_key_wrap, key["private_cipher"], "signing-key")
    async for key in db[SDL_KEYS].find({}):
        sealing.unwrap_private_key(ring.sdl_key_wrap, key["private_cipher"], "sdl-signing-key")
    agent_index = sealing.blind_index(ring.phone_index, CITIZEN)
    assert await db["agency_grants"].count_documents({"agent_phone_index": agent_index}) == 1
    case = await db[APPLICATIONS].find_one({"delivery.method": "POST"})
    assert case is not None
    assert open_address(case["delivery"]["address"], ring)["line"] == "香港中路1号"
    sealing.decrypt(ring.delivery_address, case["delivery"]["address"]["sealed"], DELIVERY_PURPOSE)
    bundle = await db[BUNDLES].find_one({"idempotency_key": "rotation-3"})
    assert bundle is not None
    assert open_address(bundle["request"]["delivery"]["address"], ring)["line"] == "香港中路1号"
    sealed_form = await db[APPLICATIONS].find_one({"idempotency_key": "rotation-4"})
    assert sealed_form is not None
    sealing.decrypt(ring.form_data, sealed_form["form_sealed"], form_sealing.PURPOSE)
    assert form_sealing.open_document(sealed_form, ring) == FORM
    assert form_sealing.open_document(bundle["request"], ring) == FORM
    legacy = await db[APPLICATIONS].find_one({"idempotency_key": "rotation-5"})
    assert legacy is not None
    assert legacy["form"] == {
        "idNumber": "3702**********1230",
        "phone": "138****0001",
        "name": "张三明",
    }
    assert form_sealing.open_document(legacy, ring) == FORM
    sealing.decrypt(ring.form_data, bundle["request"]["form_sealed"], form_sealing.PURPOSE)
    draft = await db[APPLICATIONS].find_one({"draft_delivery": {"$exists": True}})
    assert draft is not None
    sealing.decrypt(ring.delivery_address, draft["draft_delivery"], DRAFT_DELIVERY)
    campaign = await db[CAMPAIGNS].find_one({})
    assert campaign is not None
    expected = {sealing.blind_index(ring.phone_index, p) for p in (CITIZEN, ELDER)}
    assert set(campaign["target"]["phones"]) == expected


async def test_rotation_reads_both_generations_then_reseals_everything(
    settings: Settings, tmp_path: Path, oidc_issuer: DevIssuer
) -> None:
    del oidc_issuer  # the settings fixture's issuer is reused
    old = _settings(settings, tmp_path / "a", SECRET_A, [])
    rotated = _settings(settings, tmp_path / "b", SECRET_B, [SECRET_A])
    new_only = _settings(settings, tmp_path / "c", SECRET_B, [])
    async with running_api(old) as a:
        tokens = await _sealed_under_a(a)
        async with running_api(rotated) as b:
            # Before any reseal, B reads what A sealed: the phone look-up, the identity number,
            # the old access token (its signing key wrapped under A), the old refresh token,
            # the grant naming the agent's phone under A's index.
            me = await b.gql("{ me { id } }", token=tokens["access"])
            assert "errors" not in me, me
            again = await b.login(CITIZEN)
            assert again["user"]["id"] == me["data"]["me"]["id"]
            exported = (await b.data(EXPORT, token=again["accessToken"]))["exportMyData"]
            assert len(exported["account"]["idNumber"]) == 18
            refreshed = (await b.data(REFRESH, {"t": tokens["refresh"]}))["refreshSession"]
            assert refreshed["userErrors"] == []
            assert len((await b.data(TO_ME, token=again["accessToken"]))["agencyGrantsToMe"]) == 1

            # Reseal in pieces (a run stopped after 3 documents), then to the end.
            done, _ = await reseal(b.state.db, b.state.keyring, batch=2, limit=3)
            assert done is False
            assert await b.state.db[PROGRESS].count_documents({"finished_at": None}) >= 1
            # Half resealed: both generations are read meanwhile.
            elder = await b.login(ELDER)
            assert (await b.data(EXPORT, token=elder["accessToken"]))["exportMyData"]["account"]
            done, totals = await reseal(b.state.db, b.state.keyring, batch=2)
            assert done is True
            assert totals[USERS]["resealed"] == 3
            assert totals["agency_grants"]["resealed"] == 1
            assert totals[CAMPAIGNS]["resealed"] == 1
            assert totals[APPLICATIONS]["resealed"] == 4
            assert totals[BUNDLES]["resealed"] == 1
            assert not any(t.get("unreadable") or t.get("conflicts") for t in totals.values())
            await _everything_under(b, SECRET_B)
            # Idempotent: from scratch, nothing is changed twice.
            done, again_totals = await reseal(b.state.db, b.state.keyring, restart=True)
            assert done is True
            assert all(t.get("resealed", 0) == 0 for t in again_totals.values())
            audits = await b.state.db[AUDIT_EVENTS].count_documents(
                {"action": {"$regex": "^keys.reseal"}, "target": b.state.keyring.generation}
            )
            assert audits == 6  # started + finished/paused, three runs

            # Secret A is no longer needed.
            async with running_api(new_only) as c:
                await c.state.db["login_code_quotas"].delete_many({})  # one code a minute
                signed = await c.login(CITIZEN)
                assert signed["user"]["id"] == me["data"]["me"]["id"]  # the same account
                mine = (await c.data(EXPORT, token=signed["accessToken"]))["exportMyData"]
                assert mine["account"]["idNumber"] == exported["account"]["idNumber"]
                grants = await c.data(TO_ME, token=signed["accessToken"])
                assert len(grants["agencyGrantsToMe"]) == 1
                wallet = await c.gql("{ myLicences { id } }", token=signed["accessToken"])
                assert "errors" not in wallet, wallet


UNREGISTERED = "13800000777"  # nobody's account when the grants are made
NOBODY = "13800000778"  # nobody's account, ever
INBOX = "{ inbox(first: 20) { nodes { title } } }"
REVOKE = """mutation($input: RevokeAgencyInput!) {
  revokeAgency(input: $input) { grant { id } userErrors { code } } }"""


async def _session(api: Api, phone: str) -> str:
    opened = await api.state.auth_service().open_session_for_phone(phone, method="test")
    return opened.access_token


async def _grant_to(api: Api, token: str, phone: str) -> str:
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    payload = await api.data(GRANT, {"input": {"agentPhone": phone, "expiresAt": until}}, token)
    assert payload["grantAgency"]["userErrors"] == []
    return str(payload["grantAgency"]["grant"]["id"])


async def test_every_grant_is_reindexed_from_its_sealed_phone(
    settings: Settings, tmp_path: Path, oidc_issuer: DevIssuer
) -> None:
    """Review 3 finding 8: a grant to a number without an account follows a rotation (the
    phone is sealed in the grant); a grant from before that release is completed from its
    agent's account, or left unmatched without one; the agent is told of a revocation while
    the grant's and the account's indexes are of different generations."""
    del oidc_issuer
    old = _settings(settings, tmp_path / "a", SECRET_A, [])
    rotated = _settings(settings, tmp_path / "b", SECRET_B, [SECRET_A])
    new_only = _settings(settings, tmp_path / "c", SECRET_B, [])
    ring_b = Keyring.from_master(SECRET_B.encode())
    async with running_api(old) as a:
        for phone in (CITIZEN, ELDER):
            await create_demo_user(a.state, phone)
        elder = await _session(a, ELDER)
        unregistered = await _grant_to(a, elder, UNREGISTERED)
        # Two grants as the release before sealed phones wrote them: the index alone.
        legacy = [await _grant_to(a, elder, phone) for phone in (CITIZEN, NOBODY)]
        grants = a.state.db["agency_grants"]
        await grants.update_many(
            {"_id": {"$in": [object_id_from_global(g, "AgencyGrant") for g in legacy]}},
            {"$unset": {"agent_phone_cipher": ""}},
        )
        async with running_api(rotated) as b:
            # Half rotated: a grant made on B carries B's index, the agent's account still
            # A's; its revocation tells the agent all the same (both generations matched).
            elder_b = await _session(b, ELDER)
            made_on_b = await _grant_to(b, elder_b, CITIZEN)
            revoked = await b.data(REVOKE, {"input": {"grantId": made_on_b}}, elder_b)
            assert revoked["revokeAgency"]["userErrors"] == []
            inbox = (await b.data(INBOX, token=await _session(b, CITIZEN)))["inbox"]["nodes"]
            assert [n["title"] for n in inbox].count("代办授权已撤销") == 1

            done, totals = await reseal(b.state.db, b.state.keyring)
            assert done is True
            # A's sealed grant (the unregistered number) and the legacy one with an account
            # are moved to B; the legacy one without an account is left as it was (counted
            # `unmatched`, and `current` like the one made on B: nothing written).
            assert totals["agency_grants"] == {"resealed": 2, "current": 2, "unmatched": 1}

            def stored(grant_id: str) -> Any:
                return grants.find_one({"_id": object_id_from_global(grant_id, "AgencyGrant")})

            for grant_id, phone in ((unregistered, UNREGISTERED), (legacy[0], CITIZEN)):
                doc = await stored(grant_id)
                opened = sealing.decrypt(
                    ring_b.phone_encryption, doc["agent_phone_cipher"], GRANT_PHONE_PURPOSE
                )
                assert opened == phone
                assert doc["agent_phone_index"] == sealing.blind_index(ring_b.phone_index, phone)
            nobody = await stored(legacy[1])
            assert "agent_phone_cipher" not in nobody
            ring_a = Keyring.from_master(SECRET_A.encode())
            assert nobody["agent_phone_index"] == sealing.blind_index(ring_a.phone_index, NOBODY)

            # On B alone, the number that had no account registers and finds its grant.
            async with running_api(new_only) as c:
                spec = UserSpec(UNREGISTERED, (Role.CITIZEN,), AssuranceLevel.L2)
                await create_user(c.state, spec)
                mine = await c.data(TO_ME, token=await _session(c, UNREGISTERED))
                assert [g["id"] for g in mine["agencyGrantsToMe"]] == [unregistered]
