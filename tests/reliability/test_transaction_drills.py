"""The hot paths' transactions (app/txn.commit_together) lose their commit: nothing of the batch
is left, the transaction is not left open to hold its keys, and the client's retry of the same
request completes exactly once at once (not after the database reaps an open transaction)."""

from __future__ import annotations

from applications.store import APPLICATIONS, NOTICES
from applications.uploads.store import BUCKET, QUOTAS, UPLOADS
from electronic_cards.store import MINT_WINDOWS, QR_TOKENS
from matters.service import seed_catalogue
from matters.store import MatterStore
from notifications.outbox_store import OUTBOX
from notifications.store import INBOX
from tests.applications.conftest import SUBMIT, demo_catalogue, own_business_input
from tests.applications.uploading import png, post_upload, upload
from tests.electronic_cards.helpers import CREATE_QR, HOLDER, licence_id, mint, seeded
from tests.factories import Api, create_demo_user
from tests.reliability.conftest import FailPoints, unavailable

BUSINESS_OWNER = "13800000001"
EVERY_COMMIT = {"skip": 0, "times": 1_000_000}


async def test_submission_cut_at_its_commit_leaves_nothing_and_completes_once_on_retry(
    drill_api: Api, fail_points: FailPoints
) -> None:
    """A manual matter's application, its uploads' marking, its notification (outbox job,
    inbox copy) and its notice record are one transaction."""
    api = drill_api
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    await create_demo_user(api.state, BUSINESS_OWNER)
    token = await api.token(BUSINESS_OWNER)
    request = {"input": await own_business_input(api, token, "drill-submit-03")}
    db = api.state.db
    await fail_points.arm(EVERY_COMMIT, ["commitTransaction"], closeConnection=True)
    first = await api.gql(SUBMIT, request, token)
    await fail_points.off()
    assert unavailable(first), first
    assert await db[APPLICATIONS].count_documents({"idempotency_key": "drill-submit-03"}) == 0
    assert await db[NOTICES].count_documents({}) == 0
    assert await db[OUTBOX].count_documents({"_id": {"$regex": "^notify:application:"}}) == 0
    assert await db[INBOX].count_documents({"source": {"$regex": "^notify:application:"}}) == 0
    attached = {"attached_to.0": {"$exists": True}}
    assert await db[UPLOADS].count_documents(attached) == 0

    for _ in range(2):  # the retry — answered at once, the cut transaction was killed — and a
        # double tap
        again = (await api.data(SUBMIT, request, token))["submitApplication"]
        assert again["userErrors"] == []
        assert again["application"]["status"] == "SUBMITTED"
    written = await db[APPLICATIONS].find({"idempotency_key": "drill-submit-03"}).to_list(5)
    assert len(written) == 1
    app_id = written[0]["_id"]
    assert await db[NOTICES].count_documents({"application_id": app_id}) == 1
    job = {"_id": {"$regex": f"^notify:application:{app_id}:"}}
    assert await db[OUTBOX].count_documents(job) == 1
    assert await db[INBOX].count_documents({"source": job["_id"]}) == 1
    assert await db[UPLOADS].count_documents({"attached_to": app_id}) == 3


async def test_upload_cut_at_its_commit_counts_and_keeps_nothing_then_once(
    drill_api: Api, fail_points: FailPoints
) -> None:
    """Quota count, GridFS chunks and files document and the upload document are one
    transaction (for an owner whose quota counter exists: after the first upload)."""
    api = drill_api
    await create_demo_user(api.state, BUSINESS_OWNER)
    token = await api.token(BUSINESS_OWNER)
    await upload(api, token, png("first"))
    db = api.state.db
    first_upload = await db[UPLOADS].find_one({})
    assert first_upload is not None
    owner = first_upload["owner_id"]
    quota_before = await db[QUOTAS].find_one({"_id": owner})
    chunks_before = await db[f"{BUCKET}.chunks"].count_documents({})
    await fail_points.arm(EVERY_COMMIT, ["commitTransaction"], closeConnection=True)
    cut = (await post_upload(api, token, png("second"))).json()
    await fail_points.off()
    assert unavailable(cut), cut
    assert await db[QUOTAS].find_one({"_id": owner}) == quota_before
    assert await db[f"{BUCKET}.chunks"].count_documents({}) == chunks_before
    assert await db[f"{BUCKET}.files"].count_documents({}) == 1
    assert await db[UPLOADS].count_documents({}) == 1

    first = await upload(api, token, png("second"))
    again = await upload(api, token, png("second"))  # same content: the same upload
    assert first["upload"]["id"] == again["upload"]["id"]
    assert await db[UPLOADS].count_documents({}) == 2
    assert await db[f"{BUCKET}.files"].count_documents({}) == 2
    quota = await db[QUOTAS].find_one({"_id": owner})
    assert quota is not None
    assert quota_before is not None
    assert quota["files"] == quota_before["files"] + 1


async def test_mint_cut_at_its_commit_takes_no_slot_and_stores_no_token(
    drill_api: Api, fail_points: FailPoints
) -> None:
    api = drill_api
    await seeded(api)
    holder = await api.token(HOLDER)
    licence = await licence_id(api, holder, "JDCJSZ")
    db = api.state.db
    tokens_before = await db[QR_TOKENS].count_documents({})
    await fail_points.arm(EVERY_COMMIT, ["commitTransaction"], closeConnection=True)
    cut = await api.gql(CREATE_QR, {"id": licence, "mode": "ONLINE"}, holder)
    await fail_points.off()
    assert unavailable(cut), cut
    assert await db[QR_TOKENS].count_documents({}) == tokens_before
    assert await db[MINT_WINDOWS].count_documents({}) == 0

    assert (await mint(api, holder, licence))["userErrors"] == []
    assert await db[QR_TOKENS].count_documents({}) == tokens_before + 1
    window = await db[MINT_WINDOWS].find_one({})
    assert window is not None
    assert len(window["mints"]) == 1
