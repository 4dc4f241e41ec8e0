"""PIPL rights: a citizen exports their personal data and erases their account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.audit import AUDIT_EVENTS
from app.ids import object_id_from_global
from applications.store import APPLICATIONS
from applications.uploads.store import UPLOADS
from auth.user_store import USERS
from electronic_cards.demo import seed_demo_licences
from electronic_cards.store import LICENCES, USAGE_RECORDS
from matters.service import seed_catalogue
from matters.store import MatterStore
from notifications.store import DEVICES
from tests.applications.conftest import demo_catalogue, own_business_input
from tests.applications.uploading import upload_png
from tests.factories import REQUEST_CODE, Api, create_demo_user

CITIZEN = "13800000001"
ELDER = "13800000003"
GRANT = """mutation($input: GrantAgencyInput!) {
  grantAgency(input: $input) { grant { id } userErrors { code } } }"""
EXPORT = "{ exportMyData }"
DELETE = """mutation($code: String!) { deleteMyAccount(input: {code: $code}) {
  deleted retained userErrors { field code } } }"""
SUBMIT = """mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id status } userErrors { code } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawApplication(input: {applicationId: $id}) {
  application { status } userErrors { code } } }"""
REGISTER = """mutation { registerDevice(input: {provider: FCM, token: "tok-pipl-0123456789",
  platform: ANDROID}) { device { id } userErrors { code } } }"""


async def _setup(api: Api) -> tuple[str, str]:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    await create_demo_user(api.state, CITIZEN)
    await seed_demo_licences(api.state.auth_service(), api.state.cards_service())
    token = await api.token(CITIZEN)
    await api.data(REGISTER, token=token)
    submitted = await api.data(
        SUBMIT, {"input": await own_business_input(api, token, uuid.uuid4().hex)}, token
    )
    app_id = submitted["submitApplication"]["application"]["id"]
    return token, app_id


async def _fresh_code(api: Api) -> str:
    # the sign-in code of _setup was used; the one-a-minute limit is reset for the test
    await api.state.db["login_code_quotas"].delete_many({})
    assert (await api.data(REQUEST_CODE, {"phone": CITIZEN}))["requestLoginCode"][
        "userErrors"
    ] == []
    return await api.last_sms_code(CITIZEN)


async def test_export_holds_everything_about_me_in_the_clear(api: Api) -> None:
    token, _ = await _setup(api)
    exported = (await api.data(EXPORT, token=token))["exportMyData"]
    assert exported["format"] == "zsb-personal-data/1"
    account = exported["account"]
    assert account["phone"] == CITIZEN  # the person's own copy is not masked
    assert len(account["idNumber"]) == 18
    assert account["sessions"]
    assert "refresh" not in str(account["sessions"])
    assert exported["applications"]["applications"][0]["form"]["businessName"]
    assert exported["licences"]["licences"]
    assert "number_cipher" not in str(exported)  # ciphers never leave
    assert exported["notifications"]["devices"][0]["platform"] == "ANDROID"
    assert "tok-pipl" not in str(exported)  # push tokens are not personal data worth a leak
    audit = await api.state.db[AUDIT_EVENTS].find_one({"action": "privacy.export"})
    assert audit is not None


async def test_export_is_for_signed_in_people_only(api: Api) -> None:
    payload = await api.gql(EXPORT)
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_delete_needs_a_fresh_code_and_no_open_case(api: Api) -> None:
    token, _app_id = await _setup(api)
    wrong = (await api.data(DELETE, {"code": "000000"}, token))["deleteMyAccount"]
    assert wrong["deleted"] is False
    assert wrong["userErrors"][0]["code"] in {"INVALID_CODE", "TOO_MANY_ATTEMPTS"}
    code = await _fresh_code(api)
    blocked = (await api.data(DELETE, {"code": code}, token))["deleteMyAccount"]
    assert blocked["userErrors"] == [{"field": None, "code": "OPEN_APPLICATIONS"}]
    assert await api.state.db[USERS].count_documents({}) == 1  # nothing changed


async def test_delete_erases_the_account_and_keeps_what_the_law_requires(api: Api) -> None:
    token, app_id = await _setup(api)
    loose = await upload_png(api, token, "never-used")  # in the vault, in no case
    # 王秀英 authorised this person as her agent (帮办代办): the grant names their phone.
    await create_demo_user(api.state, ELDER)
    elder = await api.token(ELDER)
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    granted = await api.data(GRANT, {"input": {"agentPhone": CITIZEN, "expiresAt": until}}, elder)
    assert granted["grantAgency"]["userErrors"] == []
    exported = (await api.data(EXPORT, token=token))["exportMyData"]
    assert len(exported["applications"]["agencyReceived"]) == 1
    withdrawn = (await api.data(WITHDRAW, {"id": app_id}, token))["withdrawApplication"]
    assert withdrawn["userErrors"] == []
    user = await api.state.auth_service().find_user_by_phone(CITIZEN)
    assert user is not None
    code = await _fresh_code(api)
    result = (await api.data(DELETE, {"code": code}, token))["deleteMyAccount"]
    assert result["userErrors"] == []
    assert result["deleted"] is True
    db = api.state.db
    # the account, its ciphers and its sessions are gone; the token no longer works
    assert await db[USERS].count_documents({"_id": user.id}) == 0
    me = await api.gql("{ me { id } }", token=token)
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await db[DEVICES].count_documents({"user_id": user.id}) == 0
    # wallet copies revoked and scrubbed; the case file kept, detached
    for licence in await db[LICENCES].find({"holder_id": user.id}).to_list(100):
        assert licence["status"] == "REVOKED"
        assert licence["holder_name"] == ""
        assert licence["id_number_cipher"] is None
    case = await db[APPLICATIONS].find_one({"applicant_id": user.id})
    assert case is not None
    assert case["applicant_erased_at"] is not None
    # the authority given to them ends with the account (the number may be reassigned)
    grant = await db["agency_grants"].find_one({})
    assert grant is not None
    assert grant["revoked_at"] is not None
    assert "agent_phone_cipher" not in grant  # their phone, sealed, goes with them
    # uploads no case uses are deleted with their files; the case's evidence stays, marked
    uploads = await db[UPLOADS].find({"owner_id": user.id}).to_list(100)
    assert uploads
    assert all(u["attached_to"] and u["owner_erased_at"] for u in uploads)
    assert object_id_from_global(loose, "Upload") not in {u["_id"] for u in uploads}
    stored_files = set(await db["materials.files"].distinct("_id"))
    assert stored_files == {u["file_id"] for u in uploads}
    assert (
        await db[USAGE_RECORDS].count_documents({"holder_id": user.id, "holder_erased_at": None})
        == 0
    )
    audit = await db[AUDIT_EVENTS].find_one({"action": "privacy.account_erased"})
    assert audit is not None
    assert audit["details"]["accountsDeleted"] == 1
    assert audit["details"]["materialsDeleted"] == 1
    # the same phone can register again as a new person
    await db["login_code_quotas"].delete_many({})
    again = await api.login(CITIZEN)
    assert again["user"]["id"] != str(user.id)
