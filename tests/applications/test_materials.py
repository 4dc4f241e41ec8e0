"""The vault and material references at submission: own uploads only, held VALID licences of
the catalogue's type only, evidence kept, orphans swept."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from app.ids import to_global_id
from auth.identity_numbers import with_check_digit
from auth.models import AssuranceLevel, Role
from auth.service import UserSpec
from electronic_cards.models import LicenceStatus
from tests.applications.conftest import (
    ELDER,
    ELDER_CARD,
    SUBMIT,
    business_input,
    elder_input,
    errors,
    licence_ref,
    ref,
)
from tests.applications.test_submit import ELDER_ID
from tests.applications.uploading import png, upload, upload_png
from tests.factories import Api, create_demo_user, create_user

VAULT = """
query Vault($first: Int, $after: String) {
  myMaterials(first: $first, after: $after) {
    edges { cursor node { id fileName inUse sha256 } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DELETE = """
mutation Del($input: DeleteMaterialInput!) {
  deleteMaterial(input: $input) { deletedUploadId userErrors { field code message } }
}"""


async def quota_matches_what_is_kept(api: Api) -> None:
    """The O(1) quota counter agrees with the uploads actually kept, owner by owner."""
    docs = await api.state.db["material_uploads"].find({}).to_list(None)
    store = api.state.upload_service().store
    for owner in {d["owner_id"] for d in docs}:
        mine = [d for d in docs if d["owner_id"] == owner]
        assert await store.usage(owner) == (len(mine), sum(d["size"] for d in mine))


async def counts(api: Api) -> tuple[int, int]:
    db = api.state.db
    return await db["applications"].count_documents({}), await db[
        "material_uploads"
    ].count_documents({"attached_to.0": {"$exists": True}})


async def test_someone_elses_upload_is_forbidden_and_nothing_is_written(
    api: Api, citizen: str
) -> None:
    await create_demo_user(api.state, ELDER)
    elder = await api.token(ELDER)
    theirs = await upload_png(api, elder, "theirs")
    sub = business_input("steal-00001")
    sub["materials"][1]["reference"] = theirs
    sub["materials"][2]["reference"] = "not-an-id"
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert payload["application"] is None
    assert sorted(errors(payload)) == [
        ("materials[1].reference", "FORBIDDEN_MATERIAL"),
        ("materials[2].reference", "INVALID_REFERENCE"),
    ]
    assert await counts(api) == (0, 0)  # no case, and no upload marked as used


async def test_a_lone_foreign_upload_is_caught_by_the_guarded_attach(
    api: Api, citizen: str
) -> None:
    # Nothing else wrong: ownership is checked by the attach update itself, then undone.
    await create_demo_user(api.state, ELDER)
    theirs = await upload_png(api, await api.token(ELDER), "theirs")
    sub = business_input("steal-00002")
    sub["materials"][2]["reference"] = theirs
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("materials[2].reference", "FORBIDDEN_MATERIAL")]
    assert await counts(api) == (0, 0)
    # An upload deleted before submission is the same failure.
    spare = await upload_png(api, citizen, "spare")
    await api.data(DELETE, {"input": {"uploadId": spare}}, citizen)
    sub = business_input("deleted-0001")
    sub["materials"][0]["reference"] = spare
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("materials[0].reference", "FORBIDDEN_MATERIAL")]
    assert await counts(api) == (0, 0)


async def test_licence_references_must_be_held_valid_and_of_the_right_type(
    api: Api, citizen: str, elder: str
) -> None:
    # (citizen before elder: the citizen fixture resets the placeholder references)
    def with_licence(key: str, reference: str) -> dict[str, Any]:
        sub = elder_input(key, ELDER_ID)
        sub["materials"][0]["reference"] = reference
        return {"input": sub}

    citizens_card = await licence_ref(api, citizen, "JMSFZ")
    forged = to_global_id("Licence", "0" * 24)
    for reference, code in [
        (citizens_card, "LICENCE_NOT_HELD"),
        (forged, "LICENCE_NOT_HELD"),
        (ref("photo-1"), "INVALID_REFERENCE"),  # an upload id where a licence belongs
    ]:
        payload = await api.data(
            SUBMIT, with_licence(f"lic-{code[:8]}-{len(reference)}", reference), elder
        )
        assert errors(payload["submitApplication"]) == [("materials[0].reference", code)]
    # The elder's own 居民身份证, once revoked, no longer serves.
    mine = ref("licence-idcard")
    await api.state.db["licences"].update_one(
        {"holder_id": {"$exists": True}, "type_code": "JMSFZ", "holder_name": "王秀英"},
        {"$set": {"status": LicenceStatus.REVOKED.value}},
    )
    payload = await api.data(SUBMIT, with_licence("lic-revoked-1", mine), elder)
    assert errors(payload["submitApplication"]) == [("materials[0].reference", "LICENCE_NOT_VALID")]
    assert (await counts(api))[0] == 0


async def test_a_licence_of_another_type_is_refused(api: Api, citizen: str) -> None:
    # 张三明 holds a 驾驶证 (JDCJSZ): not what 居民身份证 needs.
    driving = await licence_ref(api, citizen, "JDCJSZ")
    sub = elder_input("wrong-type-01", ELDER_ID)
    sub["materials"][0]["reference"] = driving
    sub["materials"][1]["reference"] = ref("file-1")
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert ("materials[0].reference", "LICENCE_TYPE_MISMATCH") in errors(payload)


async def test_vault_lists_reuses_and_keeps_evidence(api: Api, citizen: str) -> None:
    page = (await api.data(VAULT, {"first": 2}, citizen))["myMaterials"]
    assert len(page["edges"]) == 2
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (await api.data(VAULT, {"after": page["pageInfo"]["endCursor"]}, citizen))["myMaterials"]
    assert len(rest["edges"]) == 1
    sub = await api.data(SUBMIT, {"input": business_input("vault-00001")}, citizen)
    assert sub["submitApplication"]["userErrors"] == []
    # The same uploads serve a second application (一次提交重复使用).
    again = await api.data(SUBMIT, {"input": business_input("vault-00002")}, citizen)
    assert again["submitApplication"]["userErrors"] == []
    listed = (await api.data(VAULT, {}, citizen))["myMaterials"]["edges"]
    assert all(e["node"]["inUse"] for e in listed)
    used = await api.data(DELETE, {"input": {"uploadId": ref("file-1")}}, citizen)
    assert errors(used["deleteMaterial"]) == [("uploadId", "MATERIAL_IN_USE")]
    spare = await upload_png(api, citizen, "spare")
    await create_demo_user(api.state, ELDER)
    elder = await api.token(ELDER)
    not_theirs = await api.data(DELETE, {"input": {"uploadId": spare}}, elder)
    assert errors(not_theirs["deleteMaterial"]) == [("uploadId", "NOT_FOUND")]
    gone = await api.data(DELETE, {"input": {"uploadId": spare}}, citizen)
    assert gone["deleteMaterial"]["deletedUploadId"] == spare
    assert await api.state.db["materials.files"].count_documents({}) == 3
    await quota_matches_what_is_kept(api)


async def test_orphans_are_swept_after_retention_with_their_chunks(api: Api, citizen: str) -> None:
    await api.data(SUBMIT, {"input": business_input("keep-000001")}, citizen)
    orphan = (await upload(api, citizen, png("orphan", (300, 300))))["upload"]
    service = api.state.upload_service()
    assert await service.sweep_orphans() == 0  # still within the retention period
    later = service.now() + timedelta(days=8)
    service.now = lambda: later
    assert await service.sweep_orphans() == 1
    db = api.state.db
    assert await db["material_uploads"].count_documents({}) == 3  # the attached ones stay
    assert await db["materials.files"].count_documents({}) == 3
    files = await db["materials.files"].find({}, {"_id": 1}).to_list(None)
    assert (
        await db["materials.chunks"].count_documents(
            {"files_id": {"$nin": [f["_id"] for f in files]}}
        )
        == 0
    )
    listed = (await api.data(VAULT, {}, citizen))["myMaterials"]["edges"]
    assert orphan["id"] not in {e["node"]["id"] for e in listed}
    await quota_matches_what_is_kept(api)


PREFILL = "query P($c: String!) { applicationPrefill(matterCode: $c) }"


async def test_prefill_full_for_a_verified_holder_masked_for_phone_only_sessions(
    api: Api, elder: str
) -> None:
    response = await api.post(PREFILL, {"c": ELDER_CARD}, elder)
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["data"]["applicationPrefill"]["idNumber"] == ELDER_ID
    spec = UserSpec(
        "13800000277",
        (Role.CITIZEN,),
        AssuranceLevel.L1,
        "赵一",
        with_check_digit("37020219900101123"),
        "370202",
    )
    await create_user(api.state, spec)
    weak = await api.token(spec.phone)
    data = (await api.data(PREFILL, {"c": ELDER_CARD}, weak))["applicationPrefill"]
    full = with_check_digit("37020219900101123")
    assert data["idNumber"] != full
    assert data["idNumber"][:3] == full[:3]
    assert "*" in data["idNumber"]
    assert "*" in data["phone"]


async def test_material_bytes_for_the_owner_and_the_processing_clerk_only(
    api: Api, citizen: str, clerk: str, other_clerk: str
) -> None:
    upload_id = ref("file-1")
    mine = await api.client.get(f"/materials/{upload_id}", headers=bearer(citizen))
    assert mine.status_code == 200
    assert mine.headers["content-type"] == "image/png"
    assert mine.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in mine.headers["content-security-policy"]
    assert mine.headers["cache-control"] == "private, no-store"
    listed = (await api.data(VAULT, {}, citizen))["myMaterials"]["edges"]
    assert hashlib.sha256(mine.content).hexdigest() in {e["node"]["sha256"] for e in listed}
    # Before the upload is part of a case, no clerk may read it; other people never.
    await create_demo_user(api.state, ELDER)
    for token in (clerk, other_clerk, await api.token(ELDER)):
        refused = await api.client.get(f"/materials/{upload_id}", headers=bearer(token))
        assert refused.status_code == 404
    assert (await api.client.get(f"/materials/{upload_id}")).status_code == 401
    assert (await api.client.get("/materials/nonsense", headers=bearer(citizen))).status_code == 404
    await api.data(SUBMIT, {"input": business_input("download-01")}, citizen)
    seen = await api.client.get(f"/materials/{upload_id}", headers=bearer(clerk))
    assert seen.status_code == 200
    assert seen.content == mine.content
    audit = await api.state.db["audit_events"].find_one({"action": "applications.material.read"})
    assert audit is not None
    assert audit["target"] == upload_id
    # A clerk of a department that may not process the case still gets nothing.
    other = await api.client.get(f"/materials/{upload_id}", headers=bearer(other_clerk))
    assert other.status_code == 404


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
