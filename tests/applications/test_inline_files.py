"""submitApplication with the files in the request itself (multipart): the same checks as
uploadMaterial, the uploads written with the application or not at all."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from app.ids import object_id_from_global
from tests.applications.conftest import (
    BUSINESS,
    CITIZEN,
    ELDER,
    SUBMIT,
    business_input,
    elder_materials_of,
    errors,
)
from tests.applications.flows.test_agency import GRANT, TO_ME, soon
from tests.applications.test_drafts import SAVE as SAVE_DRAFT
from tests.applications.test_materials import quota_matches_what_is_kept
from tests.applications.uploading import png, upload_png
from tests.conftest import make_settings, running_api
from tests.factories import Api, create_demo_user

MATERIALS = ["个体工商户登记（备案）申请书", "经营者身份证明", "经营场所使用证明"]


def with_files(sub: dict[str, Any], mapping: dict[int, str]) -> dict[str, Any]:
    """`sub` whose materials at the given positions carry a file part instead of a reference."""
    materials = [dict(m) for m in sub["materials"]]
    for i in mapping:
        materials[i].pop("reference", None)
        materials[i]["file"] = None
    return {**sub, "materials": materials}


async def post_submit(
    api: Api,
    token: str,
    sub: dict[str, Any],
    parts: dict[str, tuple[str, bytes, str]],
    mapping: dict[str, list[int]],
    query: str = SUBMIT,
) -> dict[str, Any]:
    """One multipart submitApplication: part name -> (file name, bytes, type), and which
    materials each part is the file of."""
    paths = {
        part: [f"variables.input.materials.{i}.file" for i in at] for part, at in mapping.items()
    }
    response = await api.client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": query, "variables": {"input": sub}}),
            "map": json.dumps(paths),
        },
        files={part: spec for part, spec in parts.items()},
        headers={"Authorization": f"Bearer {token}", "apollo-require-preflight": "true"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["submitApplication"]
    return payload


async def stored(api: Api) -> tuple[int, int, int]:
    db = api.state.db
    return (
        await db["material_uploads"].count_documents({}),
        await db["materials.files"].count_documents({}),
        await db["materials.chunks"].count_documents({}),
    )


def business_with_two_files(key: str) -> dict[str, Any]:
    # The first file serves two materials (one part mapped twice), the second one.
    return with_files(business_input(key), {0: "a", 1: "b", 2: "a"})


TWO_FILES = {
    "a": ("申请书.png", png("inline-a"), "image/png"),
    "b": ("id.jpg", png("inline-b"), "image/jpeg"),
}
TWO_MAPPED = {"a": [0, 2], "b": [1]}


async def test_files_sent_with_the_submission_become_its_attached_uploads(
    api: Api, citizen: str
) -> None:
    before = await stored(api)
    payload = await post_submit(
        api, citizen, business_with_two_files("inline-0001"), TWO_FILES, TWO_MAPPED
    )
    assert payload["userErrors"] == []
    app = payload["application"]
    assert app["status"] == "SUBMITTED"
    assert app["receiptNumber"]
    app_id = object_id_from_global(app["id"], "Application")
    db = api.state.db
    doc = await db["applications"].find_one({"_id": app_id})
    assert doc is not None
    refs = [object_id_from_global(m["reference"], "Upload") for m in doc["materials"]]
    assert refs[0] == refs[2] != refs[1]  # one part for two materials is one upload
    uploads = {
        u["_id"]: u for u in await db["material_uploads"].find({"_id": {"$in": refs}}).to_list(None)
    }
    assert set(uploads) == set(refs)
    me = await api.state.auth_service().find_user_by_phone(CITIZEN)
    assert me is not None
    for upload in uploads.values():
        assert upload["owner_id"] == me.id
        assert upload["attached_to"] == [app_id]
        assert upload["content_type"] == "image/png"  # decoded: the PNG named .jpg is a PNG
    assert uploads[refs[1]]["file_name"] == "id.png"
    # The bytes are in GridFS, readable as any upload's.
    store = api.state.upload_service().store
    for upload in uploads.values():
        content = await store.read(await store.get(upload["_id"]) or _missing())
        assert len(content) == upload["size"]
    after = await stored(api)
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)
    await quota_matches_what_is_kept(api)
    # The vault lists them, in use.
    vault = await api.data(
        "{ myMaterials(first: 10) { edges { node { id inUse } } } }", token=citizen
    )
    in_use = {e["node"]["id"]: e["node"]["inUse"] for e in vault["myMaterials"]["edges"]}
    assert all(in_use[m["reference"]] for m in doc["materials"])


def _missing() -> Any:
    raise AssertionError("upload not found")


async def test_a_refused_submission_keeps_none_of_its_files(api: Api, citizen: str) -> None:
    before = await stored(api)
    quota = await api.state.upload_service().store.usage(
        (await api.state.auth_service().find_user_by_phone(CITIZEN)).id  # type: ignore[union-attr]
    )
    sub = with_files(business_input("inline-0002", phone="12345"), {0: "a", 1: "b", 2: "a"})
    payload = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    # Only the form's error: files not written yet are not "someone else's upload".
    assert errors(payload) == [("form.phone", "INVALID_PHONE")]
    assert payload["application"] is None
    assert await stored(api) == before
    assert await api.state.db["applications"].count_documents({}) == 0
    me = await api.state.auth_service().find_user_by_phone(CITIZEN)
    assert me is not None
    assert await api.state.upload_service().store.usage(me.id) == quota


async def test_a_bad_file_is_refused_at_its_material_before_the_rest_is_checked(
    api: Api, citizen: str
) -> None:
    """Files are checked first (they are read and decoded before anything else): a truncated
    PNG is CORRUPT_FILE at its material's file, and nothing is written."""
    before = await stored(api)
    truncated = png("cut", size=(64, 64))[:-30]  # the image data cut short
    sub = with_files(business_input("inline-0003", phone="12345"), {0: "a", 1: "b"})
    parts = {"a": ("a.png", png("fine"), "image/png"), "b": ("b.png", truncated, "image/png")}
    payload = await post_submit(api, citizen, sub, parts, {"a": [0], "b": [1]})
    assert errors(payload) == [("materials[1].file", "CORRUPT_FILE")]
    assert payload["application"] is None
    assert await stored(api) == before


async def test_input_mistakes_about_files_are_typed(api: Api, citizen: str) -> None:
    sub = business_input("inline-0004")
    materials = [dict(m) for m in sub["materials"]]
    materials[0]["file"] = None  # and its reference kept: both
    materials[1] = {"name": MATERIALS[1], "provision": "COMMITMENT", "file": None}
    payload = await post_submit(
        api,
        citizen,
        {**sub, "materials": materials},
        {"a": ("a.png", png("x1"), "image/png"), "b": ("b.png", png("x2"), "image/png")},
        {"a": [0], "b": [1]},
    )
    assert errors(payload) == [
        ("materials[0].file", "INVALID_REFERENCE"),
        ("materials[1].file", "INVALID_PROVISION"),
    ]
    # Without multipart the file can only be a string: refused too.
    plain = business_input("inline-0005")
    plain["materials"][0] = {"name": MATERIALS[0], "provision": "UPLOAD", "file": "not a file"}
    data = await api.data(SUBMIT, {"input": plain}, citizen)
    assert errors(data["submitApplication"]) == [("materials[0].file", "INVALID_FILE")]
    # Other mutations take references only.
    supplement = """
    mutation S($input: SupplementMaterialsInput!) {
      supplementMaterials(input: $input) { userErrors { field code } } }"""
    data = await api.data(
        supplement,
        {
            "input": {
                "applicationId": "QXBwbGljYXRpb246MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw",
                "materials": [{"name": "完税凭证", "provision": "UPLOAD", "file": "x"}],
            }
        },
        citizen,
    )
    assert errors(data["supplementMaterials"]) == [("materials[0].file", "FILE_NOT_ACCEPTED")]
    assert await api.state.db["applications"].count_documents({}) == 0


async def test_a_retry_with_the_same_key_and_files_is_the_same_application(
    api: Api, citizen: str
) -> None:
    sub = business_with_two_files("inline-0006")
    first = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    after_first = await stored(api)
    again = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert again["userErrors"] == []
    assert first["userErrors"] == []
    assert again["application"]["id"] == first["application"]["id"]
    assert await stored(api) == after_first
    assert await api.state.db["applications"].count_documents({}) == 1
    await quota_matches_what_is_kept(api)


async def test_content_already_in_the_vault_is_referenced_not_stored_twice(
    api: Api, citizen: str
) -> None:
    earlier = await upload_png(api, citizen, "inline-a")  # the same bytes as part "a"
    before = await stored(api)
    payload = await post_submit(
        api, citizen, business_with_two_files("inline-0007"), TWO_FILES, TWO_MAPPED
    )
    assert payload["userErrors"] == []
    app_id = object_id_from_global(payload["application"]["id"], "Application")
    doc = await api.state.db["applications"].find_one({"_id": app_id})
    assert doc is not None
    assert doc["materials"][0]["reference"] == earlier  # the vault's upload, now attached
    after = await stored(api)
    assert after[0] - before[0] == 1  # only part "b" is new
    attached = await api.state.db["material_uploads"].find_one(
        {"_id": object_id_from_global(earlier, "Upload")}
    )
    assert attached is not None
    assert attached["attached_to"] == [app_id]
    await quota_matches_what_is_kept(api)


async def test_a_first_ever_upload_and_a_full_quota(mongo_uri: str, tmp_path: Path) -> None:
    """Without a quota counter yet the files are kept step by step first (same result); a
    full quota is QUOTA_EXCEEDED at the file, with no application."""
    settings = make_settings(mongo_uri, tmp_path, upload_quota_files=3)
    async with running_api(settings) as api:
        from matters.service import seed_catalogue
        from matters.store import MatterStore
        from tests.applications.conftest import demo_catalogue

        await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
        await create_demo_user(api.state, CITIZEN)
        token = await api.token(CITIZEN)
        me = await api.state.auth_service().find_user_by_phone(CITIZEN)
        assert me is not None
        assert await api.state.db["material_quotas"].find_one({"_id": me.id}) is None
        first = await post_submit(
            api, token, business_with_two_files("inline-0008"), TWO_FILES, TWO_MAPPED
        )
        assert first["userErrors"] == []
        assert first["application"]["status"] == "SUBMITTED"
        assert await api.state.upload_service().store.usage(me.id) == (2, (await stored_sizes(api)))
        # Two more files do not fit a quota of three.
        more = {
            "a": ("c.png", png("inline-c"), "image/png"),
            "b": ("d.png", png("inline-d"), "image/png"),
        }
        before_full = await stored(api)
        full = await post_submit(
            api, token, business_with_two_files("inline-0009"), more, TWO_MAPPED
        )
        assert [code for _, code in errors(full)] == ["QUOTA_EXCEEDED"]
        assert errors(full)[0][0] in {"materials[0].file", "materials[1].file"}
        assert full["application"] is None
        assert await api.state.db["applications"].count_documents({}) == 1
        # The file that fit before the other did not is not kept either: quota as it was.
        assert await stored(api) == before_full
        await quota_matches_what_is_kept(api)


async def stored_sizes(api: Api) -> int:
    return sum(d["size"] for d in await api.state.db["material_uploads"].find({}).to_list(None))


async def test_an_instant_approval_with_its_photo_sent_along(api: Api, elder: str) -> None:
    materials = await elder_materials_of(api, elder)
    sub = {
        "matterCode": "3702031100053",
        "idempotencyKey": "inline-miaopi-1",
        "form": {
            "applicantName": "王秀英",
            "idNumber": _elder_id_number(),
            "phone": ELDER,
            "address": "青岛市市北区辽宁路100号",
        },
        "materials": [materials[0], {"name": "近期免冠照片", "provision": "UPLOAD", "file": None}],
    }
    payload = await post_submit(
        api, elder, sub, {"p": ("photo.png", png("elder-photo"), "image/png")}, {"p": [1]}
    )
    assert payload["userErrors"] == []
    assert payload["application"]["status"] == "APPROVED"
    app_id = object_id_from_global(payload["application"]["id"], "Application")
    doc = await api.state.db["applications"].find_one({"_id": app_id})
    assert doc is not None
    photo = await api.state.db["material_uploads"].find_one(
        {"_id": object_id_from_global(doc["materials"][1]["reference"], "Upload")}
    )
    assert photo is not None
    assert photo["attached_to"] == [app_id]


def _elder_id_number() -> str:
    from auth.identity_numbers import with_check_digit

    return with_check_digit("37020319580908782")


async def test_multipart_submission_carries_nothing_else(api: Api, citizen: str) -> None:
    query = SUBMIT.replace(
        "submitApplication(input: $input) {", "logout { ok } submitApplication(input: $input) {"
    )
    response = await api.client.post(
        "/graphql",
        data={
            "operations": json.dumps(
                {"query": query, "variables": {"input": business_with_two_files("inline-0010")}}
            ),
            "map": json.dumps({"a": ["variables.input.materials.0.file"]}),
        },
        files={"a": ("a.png", png("m"), "image/png")},
        headers={"Authorization": f"Bearer {citizen}", "apollo-require-preflight": "true"},
    )
    assert response.status_code == 400
    assert await api.state.db["applications"].count_documents({}) == 0


async def test_concurrent_copies_of_one_submission_with_files_make_one_application(
    api: Api, citizen: str
) -> None:
    before = await stored(api)
    sub = business_with_two_files("inline-0011")
    results = await asyncio.gather(
        *(post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED) for _ in range(3))
    )
    assert all(r["userErrors"] == [] for r in results)
    assert len({r["application"]["id"] for r in results}) == 1
    after = await stored(api)
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)  # the losers wrote no file
    assert await api.state.db["applications"].count_documents({}) == 1
    await quota_matches_what_is_kept(api)


async def test_an_agent_sends_files_with_the_principals_submission(
    api: Api, elder: str, citizen: str
) -> None:
    """The files are the agent's uploads (the agent's vault and quota), attached to the
    principal's case."""
    given = await api.data(
        GRANT,
        {"input": {"agentPhone": CITIZEN, "expiresAt": soon(), "matterCodes": [BUSINESS]}},
        elder,
    )
    assert given["grantAgency"]["userErrors"] == []
    principal = (await api.data(TO_ME, token=citizen))["agencyGrantsToMe"][0]["principalId"]
    sub = {**business_with_two_files("inline-agent-1"), "onBehalfOf": principal}
    payload = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert payload["userErrors"] == []
    app_id = object_id_from_global(payload["application"]["id"], "Application")
    db = api.state.db
    doc = await db["applications"].find_one({"_id": app_id})
    agent = await api.state.auth_service().find_user_by_phone(CITIZEN)
    principal_user = await api.state.auth_service().find_user_by_phone(ELDER)
    assert doc is not None
    assert agent is not None
    assert principal_user is not None
    assert doc["applicant_id"] == principal_user.id
    refs = {object_id_from_global(m["reference"], "Upload") for m in doc["materials"]}
    uploads = await db["material_uploads"].find({"_id": {"$in": list(refs)}}).to_list(None)
    assert len(uploads) == 2
    assert all(u["owner_id"] == agent.id for u in uploads)
    assert all(u["attached_to"] == [app_id] for u in uploads)
    await quota_matches_what_is_kept(api)


async def test_a_draft_submitted_with_files(api: Api, citizen: str) -> None:
    saved = await api.data(
        SAVE_DRAFT, {"input": {"matterCode": BUSINESS, "form": {"businessName": "张记"}}}, citizen
    )
    draft = saved["saveApplicationDraft"]["application"]["id"]
    sub = {**business_with_two_files("inline-draft-1"), "draftId": draft}
    payload = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert payload["userErrors"] == []
    assert payload["application"]["id"] == draft
    assert payload["application"]["status"] == "SUBMITTED"
    doc = await api.state.db["applications"].find_one(
        {"_id": object_id_from_global(draft, "Application")}
    )
    assert doc is not None
    refs = {object_id_from_global(m["reference"], "Upload") for m in doc["materials"]}
    uploads = (
        await api.state.db["material_uploads"].find({"_id": {"$in": list(refs)}}).to_list(None)
    )
    assert [u["attached_to"] for u in uploads] == [[doc["_id"]], [doc["_id"]]]


async def test_a_submission_refused_after_its_files_were_kept_keeps_none_of_them(
    api: Api, citizen: str, elder: str
) -> None:
    """A reference to someone else's upload is found out by the attach, after the files went
    the step-by-step way (kept as ordinary uploads): they are removed again."""
    theirs = await upload_png(api, elder, "elders-own")
    sub = with_files(business_input("inline-0012"), {0: "a", 2: "b"})
    sub["materials"][1]["reference"] = theirs
    me = await api.state.auth_service().find_user_by_phone(CITIZEN)
    assert me is not None
    usage = await api.state.upload_service().store.usage(me.id)
    before = await stored(api)
    payload = await post_submit(api, citizen, sub, TWO_FILES, {"a": [0], "b": [2]})
    assert errors(payload) == [("materials[1].reference", "FORBIDDEN_MATERIAL")]
    assert payload["application"] is None
    assert await stored(api) == before
    assert await api.state.upload_service().store.usage(me.id) == usage


async def test_a_draft_refused_with_files_keeps_none_of_them(api: Api, citizen: str) -> None:
    saved = await api.data(
        SAVE_DRAFT, {"input": {"matterCode": BUSINESS, "form": {"businessName": "张记"}}}, citizen
    )
    draft = saved["saveApplicationDraft"]["application"]["id"]
    before = await stored(api)
    sub = {**business_with_two_files("inline-0013"), "draftId": draft}
    sub["form"] = {**sub["form"], "phone": "12345"}
    payload = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert errors(payload) == [("form.phone", "INVALID_PHONE")]
    assert await stored(api) == before


async def test_a_retry_is_answered_even_when_its_files_are_refused_now(
    api: Api, citizen: str
) -> None:
    """The key names an accepted application: a resend gets it, even if its files would be
    refused now (here: the upload rate is spent)."""
    sub = business_with_two_files("inline-0014")
    first = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert first["userErrors"] == []
    me = await api.state.auth_service().find_user_by_phone(CITIZEN)
    assert me is not None
    limiter = api.state.upload_rate
    spent = 0
    while limiter.hit(str(me.id)) <= 0:  # the rest of this user's upload allowance
        spent += 1
        assert spent < 10_000, "the upload rate limit is not on in this test's settings"
    again = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert again["userErrors"] == []
    assert again["application"]["id"] == first["application"]["id"]
    # A new submission with files is refused by the same limit, at the file.
    other = await post_submit(
        api, citizen, business_with_two_files("inline-0015"), TWO_FILES, TWO_MAPPED
    )
    assert {code for _, code in errors(other)} == {"RATE_LIMITED"}


async def test_too_many_files_and_two_submissions_in_one_request(api: Api, citizen: str) -> None:
    sub = business_input("inline-0016")
    names = [m["name"] for m in sub["materials"]]
    materials = [{"name": names[i % 3], "provision": "UPLOAD", "file": None} for i in range(11)]
    parts = {str(i): (f"{i}.png", png(f"many-{i}"), "image/png") for i in range(11)}
    before = await stored(api)
    payload = await post_submit(
        api, citizen, {**sub, "materials": materials}, parts, {str(i): [i] for i in range(11)}
    )
    assert ("materials", "TOO_MANY_FILES") in errors(payload)
    assert await stored(api) == before
    # Two submissions sharing the request's file parts: refused before anything runs.
    query = """
    mutation S($a: SubmitApplicationInput!, $b: SubmitApplicationInput!) {
      a: submitApplication(input: $a) { application { id } }
      b: submitApplication(input: $b) { application { id } } }"""
    a = with_files(business_input("inline-0017"), {0: "p"})
    b = with_files(business_input("inline-0018"), {0: "p"})
    response = await api.client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": query, "variables": {"a": a, "b": b}}),
            "map": json.dumps(
                {"p": ["variables.a.materials.0.file", "variables.b.materials.0.file"]}
            ),
        },
        files={"p": ("p.png", png("shared"), "image/png")},
        headers={"Authorization": f"Bearer {citizen}", "apollo-require-preflight": "true"},
    )
    assert response.status_code == 400
    assert await api.state.db["applications"].count_documents({}) == 0


async def test_a_submission_with_its_files_is_three_round_trips(api: Api, citizen: str) -> None:
    """The caller's account check (with their notification preferences: the notice's read, done
    by the erasure guard and reused), then one bulkWrite and its commit. Before session 4: two
    uploadMaterial requests and a submitApplication, 10 round trips."""
    from pymongo import AsyncMongoClient

    from app.db import Document
    from tests.electronic_cards.test_round_trips import _Commands

    commands = _Commands()
    original = api.state.client
    counted: AsyncMongoClient[Document] = AsyncMongoClient(
        api.state.settings.mongodb_uri, tz_aware=True, event_listeners=[commands]
    )
    api.state.client = counted
    try:
        # The first one through this client also reserves a block of receipt serials.
        warm = business_with_two_files("inline-rt-warm")
        await post_submit(api, citizen, warm, TWO_FILES, TWO_MAPPED)
        commands.names.clear()
        fresh = {
            "a": ("a.png", png("rt-a"), "image/png"),
            "b": ("b.png", png("rt-b"), "image/png"),
        }
        payload = await post_submit(
            api, citizen, business_with_two_files("inline-rt-0001"), fresh, TWO_MAPPED
        )
    finally:
        api.state.client = original
        await counted.close()
    assert payload["userErrors"] == []
    assert commands.names == ["aggregate", "bulkWrite", "commitTransaction"], commands.names
