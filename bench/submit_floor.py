"""The database's own share of one submission: its reads and its transaction, replayed.

Takes what one real multipart submission wrote (the application, its two uploads with their
GridFS files and chunks, the outbox job, the inbox copy, the notice record) and writes fresh
copies of them the way the API does — the applicant's account read, the notification
preferences read, then one `bulkWrite` in one transaction (app/txn.commit_together) — from
this process, without HTTP, GraphQL, image checks or any service code. Its rate is the most a
submission could reach on this database if the API cost nothing.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from bson import ObjectId
from pymongo import InsertOne, UpdateMany, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from app.txn import Write, commit_together


class SubmissionReplay:
    """Replays of one sample submission per applicant: each concurrent client replays its own
    applicant's (each bench client is its own citizen), so that the quota counters they update
    are not one document every client conflicts on."""

    def __init__(self, db: AsyncDatabase[Document], samples: list[dict[str, Any]]) -> None:
        self.db = db
        self.samples = samples

    @classmethod
    async def of_applicants(
        cls, db: AsyncDatabase[Document], applicants: list[ObjectId]
    ) -> SubmissionReplay:
        return cls(db, [await _sample(db, applicant) for applicant in applicants])

    async def one(self, k: int) -> None:
        s, db, name = self.samples[k], self.db, self.db.name
        applicant = s["application"]["applicant_id"]
        await db["users"].find_one({"_id": applicant})
        await (await db["users"].aggregate([{"$match": {"_id": applicant}}])).to_list(None)
        app_id = ObjectId()
        writes: list[Write] = [
            InsertOne(
                _fresh(
                    s["application"],
                    _id=app_id,
                    idempotency_key=f"replay-{app_id}",
                    receipt_number=f"R{app_id}",
                ),
                namespace=f"{name}.applications",
            ),
            UpdateOne(
                {"_id": applicant},
                {"$inc": {"files": len(s["uploads"]), "bytes": 1}},
                namespace=f"{name}.material_quotas",
            ),
        ]
        upload_docs: list[Write] = []
        upload_ids = []
        for upload in s["uploads"]:
            file_id, upload_id = ObjectId(), ObjectId()
            upload_ids.append(upload_id)
            writes += [
                InsertOne(_fresh(c, files_id=file_id), namespace=f"{name}.materials.chunks")
                for c in s["chunks"]
                if c["files_id"] == upload["file_id"]
            ]
            files = next(f for f in s["files"] if f["_id"] == upload["file_id"])
            writes.append(
                InsertOne(_fresh(files, _id=file_id), namespace=f"{name}.materials.files")
            )
            upload_docs.append(
                InsertOne(
                    _fresh(
                        upload,
                        _id=upload_id,
                        file_id=file_id,
                        sha256=str(upload_id),
                        attached_to=[],
                    ),
                    namespace=f"{name}.material_uploads",
                )
            )
        notice = {k: v for k, v in s["notice"].items() if k != "_id"}
        writes += [
            *upload_docs,
            UpdateMany(
                {"_id": {"$in": upload_ids}},
                {"$addToSet": {"attached_to": app_id}},
                namespace=f"{name}.material_uploads",
            ),
            InsertOne(
                _fresh(s["job"], source=f"replay-{app_id}"), namespace=f"{name}.notification_outbox"
            ),
            InsertOne(
                _fresh(s["inbox"], source=f"replay-{app_id}"), namespace=f"{name}.notifications"
            ),
            UpdateOne(
                {"_id": f"replay-{app_id}"},
                {"$setOnInsert": {**notice, "application_id": app_id}},
                upsert=True,
                namespace=f"{name}.application_notices",
            ),
        ]
        await commit_together(self.db.client, writes)

    async def rate(self, seconds: float) -> tuple[int, float]:
        """Closed-loop replays, one client per sample, for `seconds`."""
        count = 0
        stop = time.monotonic() + seconds

        async def client(k: int) -> None:
            nonlocal count
            while time.monotonic() < stop:
                await self.one(k)
                count += 1

        started = time.monotonic()
        await asyncio.gather(*(client(k) for k in range(len(self.samples))))
        return count, time.monotonic() - started


async def _sample(db: AsyncDatabase[Document], applicant: ObjectId) -> dict[str, Any]:
    """The documents of the applicant's latest submission (with uploads and a notice)."""
    app = await db["applications"].find_one({"applicant_id": applicant}, sort=[("created_at", -1)])
    assert app is not None, "no submission to replay"
    uploads = await db["material_uploads"].find({"attached_to": app["_id"]}).to_list(None)
    file_ids = [u["file_id"] for u in uploads]
    sample = {
        "application": app,
        "uploads": uploads,
        "files": await db["materials.files"].find({"_id": {"$in": file_ids}}).to_list(None),
        "chunks": await db["materials.chunks"].find({"files_id": {"$in": file_ids}}).to_list(None),
        "job": await db["notification_outbox"].find_one({"user_ids": applicant}),
        "inbox": await db["notifications"].find_one({"user_id": applicant}),
        "notice": await db["application_notices"].find_one({"application_id": app["_id"]}),
    }
    assert all(sample.values()), f"the sample submission is incomplete: {sample.keys()}"
    return sample


def _fresh(doc: Document, **changes: Any) -> Document:
    out = copy.deepcopy(doc)
    out["_id"] = ObjectId()
    out.update(changes)
    return out
