"""What the 电子卡包 domain holds about a person, for PIPL export and erasure
(app/personal_data.py).

Export: licence metadata (type, issuer, validity, status; not the sealed numbers), usage records
of the person's licences, grants, delegations and correction tickets.
Erasure: the wallet copies are revoked (so an outstanding QR fails online and in the next
published status list; a deleted licence would flip back to "valid" in the list) and scrubbed
of the holder's name, identity-number cipher and attributes; grants, delegations, corrections
and lifecycle events are deleted. Usage records stay: they are the verifying organisations'
evidence of a check (docs/security.md, "Retention"), marked `holder_erased_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from electronic_cards.models import LicenceStatus
from electronic_cards.store import (
    CORRECTIONS,
    DELEGATIONS,
    EVENTS,
    GRANTS,
    LICENCES,
    USAGE_RECORDS,
)

_METADATA = {
    "type_code": 1,
    "issuer": 1,
    "valid_from": 1,
    "valid_until": 1,
    "status": 1,
    "created_at": 1,
}


async def export(db: AsyncDatabase[Document], user_id: ObjectId) -> dict[str, Any]:
    mine = {"holder_id": user_id}
    licences = await db[LICENCES].find(mine, _METADATA).sort("created_at", 1).to_list(1000)
    records = await db[USAGE_RECORDS].find(mine, {"holder_id": 0}).sort("at", -1).to_list(10_000)
    return {
        "licences": licences,
        "usageRecords": records,
        "grants": await db[GRANTS].find(mine, {"holder_id": 0}).to_list(1000),
        "delegations": await db[DELEGATIONS].find(mine, {"holder_id": 0}).to_list(1000),
        "corrections": await db[CORRECTIONS].find(mine, {"holder_id": 0}).to_list(1000),
    }


async def erase(db: AsyncDatabase[Document], user_id: ObjectId, now: datetime) -> dict[str, int]:
    mine = {"holder_id": user_id}
    licences = await db[LICENCES].update_many(
        mine,
        {
            "$set": {
                "status": LicenceStatus.REVOKED.value,
                "holder_name": "",
                "attributes": {},
                "id_number_cipher": None,
                "holder_erased_at": now,
            }
        },
    )
    deleted = 0
    for name in (GRANTS, DELEGATIONS, CORRECTIONS, EVENTS):
        deleted += (await db[name].delete_many(mine)).deleted_count
    records = await db[USAGE_RECORDS].update_many(
        {**mine, "holder_erased_at": None}, {"$set": {"holder_erased_at": now}}
    )
    return {
        "licencesRevoked": licences.modified_count,
        "licenceSharingDeleted": deleted,
        "usageRecordsRetained": records.modified_count,
    }
