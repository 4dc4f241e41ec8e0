"""The append-only audit log of privileged and security-relevant actions.

Clerks', operators' and admins' actions, key rotations and session-security events are recorded
here. There is deliberately no update or delete path: a record, once written, stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app.db import CollectionIndexes, Document
from app.observability import request_id_var

AUDIT_EVENTS = "audit_events"

INDEXES = [
    CollectionIndexes(
        AUDIT_EVENTS,
        [
            IndexModel([("at", DESCENDING)]),
            IndexModel([("actor_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING)]),
        ],
    )
]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    action: str  # dotted, domain first: "auth.keys.rotate", "applications.approve"
    actor_id: ObjectId | None  # None for the system or an operator's CLI
    actor_roles: tuple[str, ...] = ()
    target: str | None = None  # a global id or key id; never personal data in the clear
    details: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    async def record(self, event: AuditEvent) -> None:
        await self.db[AUDIT_EVENTS].insert_one(
            {
                "at": datetime.now(UTC),
                "action": event.action,
                "actor_id": event.actor_id,
                "actor_roles": list(event.actor_roles),
                "target": event.target,
                "details": event.details,
                "request_id": request_id_var.get(),
            }
        )

    async def recent(self, *, action: str | None = None, limit: int = 100) -> list[Document]:
        query = {"action": action} if action else {}
        cursor = self.db[AUDIT_EVENTS].find(query).sort("at", DESCENDING).limit(limit)
        return await cursor.to_list(limit)
