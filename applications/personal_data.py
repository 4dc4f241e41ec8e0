"""What the 申办 domain holds about a person, for PIPL export and erasure (app/personal_data.py).

Export: every application and draft with its form, materials, timeline, result and rating;
一件事 bundles; 帮办代办 authorisations given and received; tickets reported; credit events.
Erasure: drafts are deleted; submitted applications, bundles, tickets (complaints are case files
too) and credit events (a 告知承诺 breach is a public-credit record) are kept (docs/security.md,
"Retention"), marked `applicant_erased_at` / `reporter_erased_at`; authorisations the person gave
are deleted and those naming them as agent revoked; status notices are deleted. Uploaded
materials no case uses are deleted with their files; those a case uses stay with the case as its
evidence, marked `owner_erased_at`. While a case is
still being processed the account cannot be erased (withdraw it, or wait for the decision), nor
while a paper result waits to be posted to the person's address; a case that got in while the
erasure ran is withdrawn by it (`_withdraw_late_cases`).

结果送达 addresses are sealed at rest: the export opens them (the person's own data, readable);
erasure removes them from every kept case (`delivery.address` → null, `address_erased_at`), while
the shipment record (carrier, waybill number, dates: 是否快递递送结果 of the national case record)
stays with the case file. A 一件事 bundle keeps its sealed address only until its members exist;
one that never completed is exported and erased the same way (`request.delivery.address`).

Forms' identity numbers and phones are sealed at rest too (`form_sealed`, applications/
form_sealing.py): the export opens them. Erasure keeps them with the kept case: the form is the
case file (申请表), which the retention rules keep whole; it stays sealed, read only by the
department's clerks through the case. Drafts go, and their sealed values with them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app import sealing
from app.db import Document
from app.errors import DomainError
from app.keyring import Keyring
from applications import form_sealing
from applications.delivery import open_address
from applications.drafts import DRAFT_DELIVERY
from applications.flow_store import AGENCY_GRANTS, BUNDLES, CREDIT_EVENTS, TICKETS
from applications.models import Event
from applications.store import APPLICATIONS, NOTICES
from applications.uploads.store import UPLOADS, UploadStore
from applications.workflow import Status

# A case a department is still working on, or one waiting for the applicant.
OPEN = [
    Status.SUBMITTED.value,
    Status.ACCEPTED.value,
    Status.ACCEPTED_PENDING_SUPPLEMENT.value,
    Status.RETURNED.value,
    Status.IN_REVIEW.value,
]
_INTERNAL = {"applicant_id": 0, "idempotency_key": 0, "rev": 0}


async def export(
    db: AsyncDatabase[Document],
    user_id: ObjectId,
    phone_keys: Sequence[str],
    keyring: Keyring | None = None,
) -> dict[str, Any]:
    """`phone_keys`: the person's phone blind index (one per key generation during a rotation),
    which grants naming them as agent carry; `keyring`: opens the sealed delivery addresses
    (without it they are left out)."""
    cursor = db[APPLICATIONS].find({"applicant_id": user_id}, _INTERNAL).sort("created_at", 1)
    return {
        "applications": [_readable(d, keyring) for d in await cursor.to_list(10_000)],
        "bundles": [
            _readable_bundle(d, keyring)
            for d in await db[BUNDLES].find({"applicant_id": user_id}, _INTERNAL).to_list(1000)
        ],
        # The agent's phone as the grant keeps it for look-ups (blind index, sealed) is no
        # reading for anyone: the masked copy stands for it.
        "agencyGiven": await db[AGENCY_GRANTS]
        .find({"principal_id": user_id}, {"agent_phone_cipher": 0})
        .to_list(1000),
        "agencyReceived": await db[AGENCY_GRANTS]
        .find(
            {"agent_phone_index": {"$in": list(phone_keys)}},
            {"agent_phone_index": 0, "agent_phone_cipher": 0},
        )
        .to_list(1000),
        "tickets": await db[TICKETS].find({"reporter_id": user_id}).to_list(1000),
        "creditEvents": await db[CREDIT_EVENTS].find({"subject_id": user_id}).to_list(1000),
        # The vault's metadata; the files themselves are downloadable one by one (/materials).
        "materials": await db[UPLOADS].find({"owner_id": user_id}, {"owner_id": 0}).to_list(10_000),
    }


def _readable(doc: Document, keyring: Keyring | None) -> Document:
    """A case as exported: sealed 结果送达 data and form values opened for their owner, never
    as ciphertext (without a keyring the form keeps its masked values)."""
    form_sealed = doc.pop("form_sealed", None)
    if keyring is not None:
        doc["form"] = form_sealing.open_form(doc.get("form"), form_sealed, keyring)
    sealed_draft = doc.pop("draft_delivery", None)
    if sealed_draft is not None and keyring is not None:
        keys = keyring.all("delivery_address")
        text = sealing.decrypt_any(keys, bytes(sealed_draft), DRAFT_DELIVERY)
        doc["draft_result_delivery"] = json.loads(text)
    address = (doc.get("delivery") or {}).get("address")
    if address:
        opened = open_address(address, keyring) if keyring is not None else None
        doc["delivery"] = {**doc["delivery"], "address": opened}
    return doc


def _readable_bundle(doc: Document, keyring: Keyring | None) -> Document:
    """A 一件事 bundle as exported: the address its request still holds (members not all
    created yet) opened, like a case's."""
    request = doc.get("request") or {}
    if "form_sealed" in request:
        blob = request.pop("form_sealed")
        if keyring is not None:
            request["form"] = form_sealing.open_form(request.get("form"), blob, keyring)
    delivery = request.get("delivery") or {}
    if delivery.get("address"):
        opened = open_address(delivery["address"], keyring) if keyring is not None else None
        doc["request"] = {**doc["request"], "delivery": {**delivery, "address": opened}}
    return doc


async def check_erasable(db: AsyncDatabase[Document], user_id: ObjectId) -> None:
    open_cases = await db[APPLICATIONS].count_documents(
        {"applicant_id": user_id, "status": {"$in": OPEN}}
    )
    if open_cases:
        raise DomainError(
            f"尚有 {open_cases} 件申请正在办理，请撤回或待办结后再注销 (open applications)",
            code="OPEN_APPLICATIONS",
        )
    to_post = await db[APPLICATIONS].count_documents(
        {
            "applicant_id": user_id,
            "status": Status.APPROVED.value,
            "delivery.method": "POST",
            "delivery.shipment": None,
        }
    )
    if to_post:
        raise DomainError(
            f"尚有 {to_post} 件办理结果待邮寄，请待寄出后再注销 (results awaiting posting)",
            code="RESULT_AWAITING_DELIVERY",
        )


async def erase(
    db: AsyncDatabase[Document],
    user_id: ObjectId,
    now: datetime,
    phone_keys: Sequence[str] | None,
) -> dict[str, int]:
    withdrawn = await _withdraw_late_cases(db, user_id, now)
    drafts = await db[APPLICATIONS].delete_many(
        {"applicant_id": user_id, "status": Status.DRAFT.value}
    )
    kept_ids = await db[APPLICATIONS].distinct("_id", {"applicant_id": user_id})
    notices = await db[NOTICES].delete_many({"application_id": {"$in": kept_ids}})
    # 结果送达: the address goes; the shipment record stays with the case file.
    await db[APPLICATIONS].update_many(
        {"applicant_id": user_id, "delivery.address": {"$ne": None}},
        {"$set": {"delivery.address": None, "delivery.address_erased_at": now}},
    )
    # An e-licence still owed (a failed wallet write) is never issued now: it would carry the
    # erased person's name (applications/issuing.py). As a revocation does, clear the flag; and
    # a paper result (approved after the erasure's check) has no address left to be posted to.
    kept = await db[APPLICATIONS].update_many(
        {"applicant_id": user_id, "applicant_erased_at": None},
        {
            "$set": {"applicant_erased_at": now},
            "$unset": {"result_pending": "", "awaiting_shipment": ""},
        },
    )
    await db[BUNDLES].update_many(
        {"applicant_id": user_id, "request.delivery.address": {"$ne": None}},
        {"$set": {"request.delivery.address": None, "request.delivery.address_erased_at": now}},
    )
    await db[BUNDLES].update_many(
        {"applicant_id": user_id, "applicant_erased_at": None},
        {"$set": {"applicant_erased_at": now}},
    )
    tickets = await db[TICKETS].update_many(
        {"reporter_id": user_id, "reporter_erased_at": None},
        {"$set": {"reporter_erased_at": now}},
    )
    given = await db[AGENCY_GRANTS].delete_many({"principal_id": user_id})
    # Grants naming the person as agent end with the account: the number may be reassigned
    # (二次放号), and its next owner must not inherit the authority. The sealed phone goes from
    # every grant naming them (a revoked grant is never matched again); the blind index stays
    # with the principal's record of the grant (it identifies nobody without the secret).
    if phone_keys:
        naming = {"agent_phone_index": {"$in": list(phone_keys)}}
        await db[AGENCY_GRANTS].update_many(
            {**naming, "revoked_at": None}, {"$set": {"revoked_at": now}}
        )
        await db[AGENCY_GRANTS].update_many(
            {**naming, "agent_phone_cipher": {"$exists": True}},
            {"$unset": {"agent_phone_cipher": ""}},
        )
    uploads = UploadStore(db)
    materials_deleted = len(await uploads.delete_unattached({"owner_id": user_id}))
    await db[UPLOADS].update_many(
        {"owner_id": user_id, "owner_erased_at": None}, {"$set": {"owner_erased_at": now}}
    )
    return {
        "materialsDeleted": materials_deleted,
        "draftsDeleted": drafts.deleted_count,
        "noticesDeleted": notices.deleted_count,
        "applicationsRetained": kept.modified_count,
        "ticketsRetained": tickets.modified_count,
        "agencyGrantsDeleted": given.deleted_count,
        "lateCasesWithdrawn": withdrawn,
    }


async def _withdraw_late_cases(
    db: AsyncDatabase[Document], user_id: ObjectId, now: datetime
) -> int:
    """Close a case that reached the database after the erasure's check (its request passed the
    write guard just before the account was marked; app/erasures.py): nobody is left to follow
    it up. Withdrawn by the system, with the reason on its timeline; none in the usual case."""
    withdrawn = 0
    cursor = db[APPLICATIONS].find(
        {"applicant_id": user_id, "status": {"$in": OPEN}}, {"status": 1}
    )
    for doc in await cursor.to_list(1000):
        event = Event(
            now,
            None,
            "SYSTEM",
            "WITHDRAW",
            Status(doc["status"]),
            Status.WITHDRAWN,
            "申请人已注销账号 (applicant erased their account)",
        )
        done = await db[APPLICATIONS].update_one(
            {"_id": doc["_id"], "status": doc["status"]},
            {
                "$set": {"status": Status.WITHDRAWN.value, "finished_at": now},
                "$push": {"timeline": event.to_document()},
                "$inc": {"rev": 1},
            },
        )
        withdrawn += done.modified_count
    return withdrawn
