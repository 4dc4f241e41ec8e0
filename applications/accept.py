"""A new application and its first notice, committed together.

`submitApplication` used to write the application, then the applicant's notification (outbox
job, inbox copy) and the case's notice record: four writes, each a retryable write of its own
(on SecantusDB each costs milliseconds once many writes were recorded for replay: see
docs/operations.md, "Retryable writes"), after the uploads were marked as its evidence (and
released again if the insert failed). Here all of it is one `bulkWrite` in one transaction:
the application never exists without its notice, a notice or a marked upload never without its
application, and a duplicate idempotency key leaves nothing at all (no release to run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import UpdateMany, UpdateOne
from pymongo.results import ClientBulkWriteResult

from app.db import Document
from app.ids import to_global_id
from app.txn import DuplicateKeyAt, Write
from applications.models import Application
from applications.store import NOTICES, ApplicationStore, Requirement
from applications.uploads.inline import InlineNotKept, InlineUploads
from applications.uploads.store import admitted
from applications.workflow import STATUS_NAMES, Status
from notifications import service as notifications_service


@dataclass(frozen=True, slots=True)
class StatusNotice:
    """What a status change tells the applicant, and the notice record kept with the case."""

    key: str  # the notification's natural key: a retried step sends nothing twice
    data: dict[str, object]
    record: Document  # application_notices, `_id` = the change

    def record_write(self, namespace: str) -> UpdateOne:
        """`ApplicationStore.add_notice` as a write for a transaction (idempotent on the
        change, like it)."""
        fields = {k: v for k, v in self.record.items() if k != "_id"}
        return UpdateOne(
            {"_id": self.record["_id"]}, {"$setOnInsert": fields}, upsert=True, namespace=namespace
        )


TEMPLATE = "APPLICATION_STATUS_CHANGED"


def status_notice(
    app: Application, before: Status | None, after: Status, now: datetime
) -> StatusNotice:
    change = f"{app.id}:{after.value}:{len(app.timeline)}"
    return StatusNotice(
        key=f"application:{change}",
        data={
            "matter_name": app.matter_name,
            "receipt_number": app.receipt_number or "—",
            "status": STATUS_NAMES.get(after, after.value),
            "application_id": to_global_id("Application", app.id),
        },
        record={
            "_id": change,
            "application_id": app.id,
            "applicant_id": app.applicant_id,
            "before": before.value if before else None,
            "after": after.value,
            "at": now,
        },
    )


class AlsoTaken(Exception):
    """A write given in `also` hit a unique index (a licence's status slot drawn meanwhile):
    nothing was written."""


class AttachShort(Exception):
    """An upload referenced was not marked (someone else's, unknown, deleted meanwhile):
    nothing was written."""


async def insert_with_notice(
    store: ApplicationStore,
    doc: dict[str, Any],
    now: datetime,
    attach: tuple[UpdateMany, int] | None,
    *,
    inline: InlineUploads | None = None,
    also: Sequence[Write] = (),
    requires: Requirement | None = None,
) -> Application:
    """Insert a new application (not a draft's) with the files sent with it (`inline`), the
    marking of its uploads as its evidence (`attach`: the update and the count it must match)
    and its first notice: the outbox job, the inbox copy (after one read of the applicant's
    preferences) and the notice record; `also` (秒批: the licence issued with the case); for an
    agent's submission, the grant's guarded update (`requires`: a revocation since the grant
    was checked refuses it, store.Requirement). Raises AlreadyExistsError if the (applicant,
    key) exists already, AttachShort if an upload could not be marked, InlineNotKept if the
    inline files do not fit the owner's quota counter or one is the owner's already, AlsoTaken
    if a write of `also` hit a unique index, and `requires.refusal()`, with nothing written in
    every case."""
    app = Application.from_document(doc)
    notice = status_notice(app, None, app.status, now)
    planned = notifications_service.plan_notice(
        store.db, app.applicant_id, TEMPLATE, notice.data, key=notice.key
    )
    with_copy = await planned.with_copy()
    files = inline.writes() if inline else []
    writes: list[Write] = [
        *files,  # before the attach, which marks them with the other uploads
        *([attach[0]] if attach else []),
        *(with_copy or [planned.outbox_write()]),
        notice.record_write(f"{store.db.name}.{NOTICES}"),
    ]
    # Write 0 of the batch is the application's insert, then the files (the quota count first).
    attach_at = 1 + len(files)
    also_at = 1 + len(writes)
    writes += also
    if requires is not None:  # last: its index is the batch's last
        writes.append(requires.write(store.db.name))

    def check(result: ClientBulkWriteResult) -> None:
        if requires is not None and not result.update_results[len(writes)].matched_count:
            raise requires.refusal()
        if files and not admitted(result, 1):
            raise InlineNotKept()
        if attach is not None and result.update_results[attach_at].matched_count != attach[1]:
            raise AttachShort()

    try:
        await store.insert_with(doc, writes, check)
    except DuplicateKeyAt as exc:
        if 0 < exc.index < attach_at:  # an upload document: the owner has that content
            raise InlineNotKept() from exc
        if also_at <= exc.index < also_at + len(also):
            raise AlsoTaken() from exc
        raise
    if with_copy is None:  # a capped category: its push slot is raced for after the commit
        await planned.deliver()
    return app


__all__ = [
    "TEMPLATE",
    "AlsoTaken",
    "AttachShort",
    "StatusNotice",
    "insert_with_notice",
    "status_notice",
]
