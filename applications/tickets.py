"""Tickets: one model for 差评整改 (rectification of a 1–2 star rating) and citizens' feedback
(complaints, "办不成事" reports, suggestions) — E2, E5, E6 of the requirements.

A ticket belongs to the department that handles the case (or matter) it is about. It moves
OPEN → IN_PROGRESS → CLOSED; closing needs a reply and a supervisor (督查) of that department or
an admin; every step is `$push`ed onto its history by an update guarded on the status and
revision read, like applications. Its deadline is in working days, so `slaState` works as for
cases and overdue tickets show RED in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.operations import InsertOne
from pymongo.results import ClientBulkWriteResult

from app.db import Document
from app.pagination import Connection, SortKey, paginate
from app.txn import DuplicateKeyAt, Write, commit_together
from applications.deadlines import due_at
from applications.flow_store import TICKETS
from applications.store import Requirement


class TicketKind(StrEnum):
    RECTIFICATION = "RECTIFICATION"  # 差评整改: opened by a rating of 1 or 2
    COMPLAINT = "COMPLAINT"  # 投诉 / 吐槽找茬
    CANNOT_GET_DONE = "CANNOT_GET_DONE"  # 办不成事
    SUGGESTION = "SUGGESTION"  # 意见建议


class TicketStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    CLOSED = "CLOSED"


# Working days to close, after the 12345 classes (E6: urgent 1 day, ordinary 5–10 days).
# "办不成事" is treated as urgent (接诉即办): somebody is stuck now.
DEADLINE_DAYS: dict[TicketKind, int] = {
    TicketKind.RECTIFICATION: 5,
    TicketKind.COMPLAINT: 5,
    TicketKind.CANNOT_GET_DONE: 1,
    TicketKind.SUGGESTION: 10,
}

MOVES: dict[str, tuple[frozenset[TicketStatus], TicketStatus]] = {
    "START": (frozenset({TicketStatus.OPEN}), TicketStatus.IN_PROGRESS),
    "CLOSE": (frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS}), TicketStatus.CLOSED),
}


@dataclass(frozen=True, slots=True)
class Ticket:
    id: ObjectId
    rev: int
    kind: TicketKind
    status: TicketStatus
    reporter_id: ObjectId
    department_code: str
    department_name: str | None
    application_id: ObjectId | None
    matter_code: str | None
    content: str
    opened_at: datetime
    due_at: datetime
    days: int
    reply: str | None
    closed_at: datetime | None
    history: list[Document]
    # 帮办代办: the agent who filed it for the reporter (the principal, whose ticket it is).
    agent_id: ObjectId | None = None

    @classmethod
    def from_document(cls, doc: Document) -> Ticket:
        return cls(
            id=doc["_id"],
            rev=doc["rev"],
            kind=TicketKind(doc["kind"]),
            status=TicketStatus(doc["status"]),
            reporter_id=doc["reporter_id"],
            department_code=doc["department_code"],
            department_name=doc.get("department_name"),
            application_id=doc.get("application_id"),
            matter_code=doc.get("matter_code"),
            content=doc.get("content", ""),
            opened_at=doc["opened_at"],
            due_at=doc["due_at"],
            days=doc["days"],
            reply=doc.get("reply"),
            closed_at=doc.get("closed_at"),
            history=list(doc.get("history", [])),
            agent_id=doc.get("agent_id"),
        )


def new_ticket(
    kind: TicketKind,
    *,
    source_key: str,
    reporter_id: ObjectId,
    department_code: str,
    department_name: str | None,
    content: str,
    now: datetime,
    application_id: ObjectId | None = None,
    matter_code: str | None = None,
    agent_id: ObjectId | None = None,
) -> Document:
    """A new OPEN ticket of `reporter_id`. With `agent_id`, an agent filed it on the
    reporter's behalf: the opening step is the agent's, as on an application's timeline."""
    days = DEADLINE_DAYS[kind]
    opening: Document = {
        "at": now,
        "actor_id": reporter_id,
        "action": "OPEN",
        "after": "OPEN",
        "note": None,
    }
    if agent_id is not None:
        opening.update(actor_id=agent_id, actor_role="AGENT", on_behalf_of=reporter_id)
    return {
        "_id": ObjectId(),
        "rev": 0,
        "source_key": source_key,
        "kind": kind.value,
        "status": TicketStatus.OPEN.value,
        "reporter_id": reporter_id,
        "department_code": department_code,
        "department_name": department_name,
        "application_id": application_id,
        "matter_code": matter_code,
        "content": content,
        "opened_at": now,
        "due_at": due_at(now, days),
        "days": days,
        "reply": None,
        "closed_at": None,
        "history": [opening],
        **({"agent_id": agent_id} if agent_id is not None else {}),
    }


RECENT = SortKey((("opened_at", -1), ("_id", -1)))
BY_DEADLINE = SortKey((("due_at", 1), ("_id", 1)))


class TicketStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.tickets = db[TICKETS]

    async def insert(
        self, doc: Document, session: AsyncClientSession | None = None
    ) -> tuple[Ticket, bool]:
        """Insert, or return the ticket already opened for the same source (False)."""
        try:
            await self.tickets.insert_one(doc, session=session)
            return Ticket.from_document(doc), True
        except DuplicateKeyError:
            found = await self.tickets.find_one({"source_key": doc["source_key"]}, session=session)
            if found is None:  # pragma: no cover - the unique index says it exists
                raise
            return Ticket.from_document(found), False

    async def insert_requiring(self, doc: Document, requires: Requirement) -> tuple[Ticket, bool]:
        """`insert`, in one transaction with the guarded update of the document the ticket
        rests on (an agent's grant, `store.Requirement`): a revocation committed since the
        grant was checked refuses it (`requires.refusal()`), with nothing written."""
        name = self.db.name
        writes: list[Write] = [
            InsertOne(doc, namespace=f"{name}.{TICKETS}"),
            requires.write(name),
        ]

        def check(result: ClientBulkWriteResult) -> None:
            if not result.update_results[1].matched_count:
                raise requires.refusal()

        try:
            await commit_together(self.db.client, writes, check)
        except DuplicateKeyAt:  # the same source's ticket, committed by a concurrent retry
            found = await self.tickets.find_one({"source_key": doc["source_key"]})
            if found is None:  # pragma: no cover - the unique index says it exists
                raise
            return Ticket.from_document(found), False
        return Ticket.from_document(doc), True

    async def get(self, ticket_id: ObjectId) -> Ticket | None:
        doc = await self.tickets.find_one({"_id": ticket_id})
        return Ticket.from_document(doc) if doc else None

    async def move(
        self,
        ticket: Ticket,
        after: TicketStatus,
        event: Document,
        fields: dict[str, Any],
        session: AsyncClientSession | None = None,
    ) -> Ticket | None:
        doc = await self.tickets.find_one_and_update(
            {"_id": ticket.id, "status": ticket.status.value, "rev": ticket.rev},
            {
                "$set": {"status": after.value, **fields},
                "$inc": {"rev": 1},
                "$push": {"history": event},
            },
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return Ticket.from_document(doc) if doc else None

    async def mine(
        self, reporter_id: ObjectId, first: int | None, after: str | None
    ) -> Connection[Ticket]:
        return await paginate(
            self.tickets, {"reporter_id": reporter_id}, RECENT, first, after, Ticket.from_document
        )

    async def queue(
        self,
        departments: list[str] | None,
        statuses: list[TicketStatus],
        kind: TicketKind | None,
        overdue_at: datetime | None,
        first: int | None,
        after: str | None,
    ) -> Connection[Ticket]:
        query: Document = {"status": {"$in": [s.value for s in statuses]}}
        if departments is not None:
            query["department_code"] = {"$in": departments}
        if kind is not None:
            query["kind"] = kind.value
        if overdue_at is not None:
            query["due_at"] = {"$lt": overdue_at}
        return await paginate(self.tickets, query, BY_DEADLINE, first, after, Ticket.from_document)
