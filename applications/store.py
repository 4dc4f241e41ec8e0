"""The only module that touches 申办's collections.

`applications` holds each case with its timeline embedded: a status change and its event are
one `find_one_and_update` guarded by the status and revision read, so the history and the state
can never disagree and two clerks can never both win. Timeline entries are only ever `$push`ed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import ClientBulkWriteResult

from app.db import CollectionIndexes, Document
from app.errors import AlreadyExistsError
from app.keyring import Keyring
from app.pagination import Connection, SortKey, paginate
from app.txn import DuplicateKeyAt, Write, commit_together
from applications import form_sealing
from applications.models import Application, Event
from applications.workflow import Status

APPLICATIONS = "applications"
NOTICES = "application_notices"  # status-change notices until the notifications service is wired
COUNTERS = "application_counters"

INDEXES = [
    CollectionIndexes(
        APPLICATIONS,
        [
            # Idempotent submission: one application per (applicant, key), however often sent.
            # Not a partial index (drafts get a `draft:<id>` key instead): planners, SecantusDB's
            # included, do not pick a partial index for a plain equality lookup.
            IndexModel(
                [("applicant_id", ASCENDING), ("idempotency_key", ASCENDING)],
                name="applicant_idempotency_key_v2",
                unique=True,
            ),
            IndexModel(
                [("applicant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="applicant_recent",
            ),
            IndexModel(
                [
                    ("applicant_id", ASCENDING),
                    ("status", ASCENDING),
                    ("created_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="applicant_status_recent",
            ),
            # Clerk queues: a department's open cases by deadline risk.
            IndexModel(
                [("department_code", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)],
                name="department_queue",
            ),
            IndexModel([("receipt_number", ASCENDING)], name="receipt_number", sparse=True),
        ],
    ),
    CollectionIndexes(
        NOTICES, [IndexModel([("application_id", ASCENDING), ("at", ASCENDING)], name="by_app")]
    ),
]

RECENT = SortKey((("created_at", -1), ("_id", -1)))


@dataclass(frozen=True, slots=True)
class Requirement:
    """A document another one's change rests on (an agent's act on a case rests on the grant).

    Checking it first and then changing the case would let a change of it (a revocation) land
    in between and the act through. So the case's guarded update and an update of this document
    guarded by `filter` run in one transaction: if it no longer matches, nothing is written and
    `refusal()` is raised. Both sides *write* the required document, which is what serialises
    them: a concurrent write to it (the revocation) either commits first — then `filter` no
    longer matches, or the transaction's write conflicts and `commit_together` runs it again,
    when it no longer matches — or waits for the transaction's commit and comes after the act.
    Reading it inside the transaction would not do: snapshot isolation lets a read-only
    dependency change under a committing transaction (write skew)."""

    collection: str
    filter: Document
    update: Document
    refusal: Callable[[], Exception]

    def write(self, database: str) -> UpdateOne:
        """The guarded update, for a transaction's batch (its matched count must be 1)."""
        return UpdateOne(self.filter, self.update, namespace=f"{database}.{self.collection}")


def delivered(doc: Document, channel: str, at: datetime) -> Document:
    """A new approved case as `record_delivery` would leave it: for a result delivered in the
    case's own transaction (秒批, applications/service.py)."""
    result = {**doc["result"], "delivery": channel, "delivered_at": at}
    timeline = [*doc["timeline"], _delivered_event(channel, at).to_document()]
    out = {**doc, "result": result, "timeline": timeline}
    out.pop("result_pending", None)
    return out


def _delivered_event(channel: str, at: datetime) -> Event:
    approved = Status.APPROVED
    return Event(
        at, None, "SYSTEM", "RESULT_DELIVERED", approved, approved, None, {"channel": channel}
    )


def _met(requires: Requirement) -> Callable[[ClientBulkWriteResult], None]:
    """The check of a batch whose write 1 is the requirement's update."""

    def check(result: ClientBulkWriteResult) -> None:
        if not result.update_results[1].matched_count:
            raise requires.refusal()  # aborts: nothing of the batch is written

    return check


class _FirstWasSomeoneElse(Exception):
    """The case's guard matched nothing in a transaction: aborted, reported as None."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a `transition` field value: remove the field (`$unset`)
RECEIPT_BLOCK = 16  # receipt serials reserved per counter write (see next_receipt_serial)


@dataclass
class _Serials:
    """Receipt serials this process reserved and has not used yet (one client, one day)."""

    client: object
    free: deque[int] = field(default_factory=deque)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# (id of the client, database, day) → its serials; a client is used by one event loop.
_RECEIPT_BLOCKS: dict[tuple[int, str, str], _Serials] = {}


class ApplicationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.apps = db[APPLICATIONS]
        self.notices = db[NOTICES]
        self.counters = db[COUNTERS]

    async def insert(self, doc: Document, requires: Requirement | None = None) -> Application:
        """A new application (AlreadyExistsError: its (applicant, key) exists); with
        `requires`, in one transaction with the required document's update (`Requirement`)."""
        if requires is not None:
            return await self.insert_with(doc, [requires.write(self.db.name)], _met(requires))
        try:
            await self.apps.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AlreadyExistsError("申请已提交 (already submitted)") from exc
        return Application.from_document(doc)

    async def insert_with(
        self,
        doc: Document,
        also: Sequence[Write],
        check: Callable[[ClientBulkWriteResult], None] | None = None,
    ) -> Application:
        """The application (write 0 of the batch) and `also` in one transaction, `check`ed
        before the commit; nothing of it if the (applicant, key) exists already
        (AlreadyExistsError)."""
        try:
            await commit_together(
                self.db.client,
                [InsertOne(doc, namespace=f"{self.db.name}.{APPLICATIONS}"), *also],
                check,
            )
        except DuplicateKeyAt as exc:
            if exc.index != 0:
                raise
            raise AlreadyExistsError("申请已提交 (already submitted)") from exc
        return Application.from_document(doc)

    async def get(self, app_id: ObjectId) -> Application | None:
        doc = await self.apps.find_one({"_id": app_id})
        return Application.from_document(doc) if doc else None

    async def by_key(self, applicant_id: ObjectId, key: str) -> Application | None:
        doc = await self.apps.find_one({"applicant_id": applicant_id, "idempotency_key": key})
        return Application.from_document(doc) if doc else None

    async def transition(
        self,
        app: Application,
        after: Status,
        events: list[Event],
        fields: dict[str, Any] | None = None,
        *,
        requires: Requirement | None = None,
    ) -> Application | None:
        """Apply a change guarded by the status and revision read; None if someone was first.
        A field whose value is `UNSET` is removed. With `requires`, the change and the update
        of the document it rests on are one transaction (`Requirement`)."""
        kept = {k: v for k, v in (fields or {}).items() if v is not UNSET}
        update: Document = {
            "$set": {"status": after.value, **kept},
            "$inc": {"rev": 1},
            "$push": {"timeline": {"$each": [e.to_document() for e in events]}},
        }
        if removed := {k: "" for k, v in (fields or {}).items() if v is UNSET}:
            update["$unset"] = removed
        guard = {"_id": app.id, "status": app.status.value, "rev": app.rev}
        if requires is None:
            doc = await self.apps.find_one_and_update(
                guard, update, return_document=ReturnDocument.AFTER
            )
        else:
            doc = await self.update_requiring(guard, update, requires)
        return Application.from_document(doc) if doc else None

    async def update_requiring(
        self, guard: Document, update: Document, requires: Requirement
    ) -> Document | None:
        """The change and the required document's update in one transaction (`commit_together`:
        a write conflict with a concurrent revocation runs it again; the request's database
        deadline is kept). Nothing is written when either does not match."""
        name = self.db.name
        writes: list[Write] = [
            UpdateOne(guard, update, namespace=f"{name}.{APPLICATIONS}"),
            requires.write(name),
        ]

        def check(result: ClientBulkWriteResult) -> None:
            if not result.update_results[0].matched_count:
                raise _FirstWasSomeoneElse()
            if not result.update_results[1].matched_count:
                raise requires.refusal()  # aborts: the case is not changed either

        try:
            await commit_together(self.db.client, writes, check)
        except _FirstWasSomeoneElse:
            return None
        return await self.apps.find_one({"_id": guard["_id"]})

    async def record_delivery(self, app_id: ObjectId, channel: str, at: datetime) -> None:
        """The result reached its channel: recorded once (a retry finds it recorded), with a
        RESULT_DELIVERED event, and the pending flag the worker's retry selects on cleared."""
        approved = Status.APPROVED  # only approved cases deliver a result
        event = _delivered_event(channel, at)
        # Guarded on the status too: a delivery landing on a case revoked meanwhile records
        # nothing (issuing.py sees the revocation and withdraws the late licence).
        await self.apps.update_one(
            {"_id": app_id, "status": approved.value, "result.delivery": None},
            {
                "$set": {"result.delivery": channel, "result.delivered_at": at},
                "$unset": {"result_pending": ""},
                "$inc": {"rev": 1},
                "$push": {"timeline": event.to_document()},
            },
        )

    async def mark_done(self, app_id: ObjectId, guard: Document, field: str, at: datetime) -> None:
        """A step's follow-up (notice, audit) is done: a retry of its request need not repeat
        it. No event and no `rev`: the case's state does not change."""
        await self.apps.update_one({"_id": app_id, **guard}, {"$set": {field: at}})

    async def mine(
        self, applicant_id: ObjectId, status: Status | None, first: int | None, after: str | None
    ) -> Connection[Application]:
        query: Document = {"applicant_id": applicant_id}
        if status is not None:
            query["status"] = status.value
        return await paginate(self.apps, query, RECENT, first, after, Application.from_document)

    async def latest_form(self, applicant_id: ObjectId, keyring: Keyring) -> dict[str, Any]:
        """The applicant's most recent form, opened (its sealed identity numbers and phones)."""
        doc = await self.apps.find_one(
            {"applicant_id": applicant_id},
            projection={"form": 1, "form_sealed": 1},
            sort=[("created_at", DESCENDING), ("_id", DESCENDING)],
        )
        return form_sealing.open_document(doc, keyring) if doc else {}

    async def next_receipt_serial(self, day: str) -> int:
        """A day's serial, unique across processes. Each process reserves a block of
        RECEIPT_BLOCK with one `$inc` and hands it out from memory, so most submissions write
        no counter. Serials left in a block when the process stops or the day ends are gaps
        (harmless, as after a lost insert race); with several processes the order of serials
        is not the order of submission."""
        client = self.db.client
        slot = (id(client), self.db.name, day)
        held = _RECEIPT_BLOCKS.get(slot)
        if held is None or held.client is not client:
            for old in [k for k in _RECEIPT_BLOCKS if k[:2] == slot[:2]]:
                del _RECEIPT_BLOCKS[old]  # another day's leftovers of this database
            held = _RECEIPT_BLOCKS[slot] = _Serials(client)
        if not held.free:
            async with held.lock:  # one reservation at a time, however many requests wait
                if not held.free:
                    end = await self._reserve_serials(day, RECEIPT_BLOCK)
                    held.free.extend(range(end - RECEIPT_BLOCK + 1, end + 1))
        return held.free.popleft()

    async def _reserve_serials(self, day: str, count: int) -> int:
        """The last of `count` fresh serials of the day."""
        # Two first-of-the-day upserts can race: the loser sees a duplicate key (or, on some
        # servers, no document); by then the counter exists, so trying again is enough.
        for _ in range(5):
            try:
                doc = await self.counters.find_one_and_update(
                    {"_id": f"receipt:{day}"},
                    {"$inc": {"seq": count}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if doc is not None:
                return int(doc["seq"])
        raise RuntimeError("receipt counter unavailable")

    async def add_notice(self, doc: Document) -> None:
        """Idempotent on `doc["_id"]` (the change it records): a retried step keeps one."""
        fields = {k: v for k, v in doc.items() if k != "_id"}
        await self.notices.update_one({"_id": doc["_id"]}, {"$setOnInsert": fields}, upsert=True)

    async def notices_for(self, app_id: ObjectId) -> list[Document]:
        return await self.notices.find({"application_id": app_id}).sort("at", 1).to_list(None)
