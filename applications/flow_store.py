"""Collections and indexes of 申办's follow-on flows (一件事, 帮办代办, tickets, credit events).

Kept beside `store.py` (which owns `applications` itself) so each flow module stays small; the
indexes these flows need on `applications` are declared here too, next to the queries using them.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app.db import CollectionIndexes, Document, Migration

TICKETS = "application_tickets"
BUNDLES = "application_bundles"
AGENCY_GRANTS = "agency_grants"
AWAITING_SHIPMENT_INDEX = "awaiting_shipment_v2"  # 待邮寄 (shipping.py hints it)
CREDIT_EVENTS = "credit_events"

INDEXES = [
    CollectionIndexes(
        TICKETS,
        [
            # One ticket per source (a rating, a feedback idempotency key): retries are no-ops.
            IndexModel([("source_key", ASCENDING)], name="source_key", unique=True),
            IndexModel(
                [("reporter_id", ASCENDING), ("opened_at", DESCENDING), ("_id", DESCENDING)],
                name="reporter_recent",
            ),
            # 帮办代办: the tickets an agent filed (their daily limit, myAgentFeedback); agents'
            # only. Sparse, not partial: SecantusDB's planner does not see that `agent_id: X`
            # implies a partial filter `$exists: true`, and would scan the collection.
            IndexModel(
                [("agent_id", ASCENDING), ("opened_at", DESCENDING), ("_id", DESCENDING)],
                name="agent_recent_v2",
                sparse=True,
            ),
            # Staff queue: a department's open tickets by deadline.
            IndexModel(
                [("department_code", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)],
                name="department_open",
            ),
        ],
        # A partial first version of agent_recent_v2, which the planner would not use.
        retired=("agent_recent",),
    ),
    CollectionIndexes(
        BUNDLES,
        [
            IndexModel(
                [("applicant_id", ASCENDING), ("idempotency_key", ASCENDING)],
                name="applicant_idempotency_key",
                unique=True,
            ),
            IndexModel(
                [("applicant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="applicant_recent",
            ),
            IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="unfinished"),
        ],
    ),
    CollectionIndexes(
        AGENCY_GRANTS,
        [
            IndexModel(
                [("agent_phone_index", ASCENDING), ("principal_id", ASCENDING)], name="by_agent"
            ),
            IndexModel(
                [("principal_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="by_principal",
            ),
        ],
    ),
    CollectionIndexes(
        CREDIT_EVENTS,
        [
            IndexModel([("subject_id", ASCENDING), ("at", DESCENDING)], name="by_subject"),
            # One credit event per (case, kind): a retried revocation upserts, never duplicates.
            IndexModel(
                [("application_id", ASCENDING), ("kind", ASCENDING)],
                name="application_kind",
                unique=True,
            ),
        ],
    ),
    CollectionIndexes(
        "applications",
        [
            # 帮办代办: the cases an agent submitted.
            IndexModel(
                [("agent_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="agent_recent",
                sparse=True,
            ),
            # 撤销 whose effects the worker still has to finish (the flag is unset when done). Not
            # sparse: SecantusDB's planner does not pick a sparse index for an equality match.
            IndexModel(
                [("revocation_effects_pending", ASCENDING)],
                name="revocation_effects_pending",
            ),
            # 出证: e-licence results the worker still has to deliver (issuing.py). Partial, so
            # the submission hot path pays for it only on 秒批 licence inserts; SecantusDB scans
            # instead (hourly, worker only), real MongoDB serves `{result_pending: true}` from it.
            IndexModel(
                [("result_pending", ASCENDING)],
                name="result_pending",
                partialFilterExpression={"result_pending": True},
            ),
            # 待邮寄 (shipping.py): approved POST results not shipped yet, by department and age.
            # Partial on the `awaiting_shipment` flag, which only such a case carries (set with
            # the approval, unset with the shipment, the revocation or the erasure), so the index
            # holds the current queue, not every posted case ever (its first version filtered
            # on `delivery.method` and grew with the whole history; retired below).
            IndexModel(
                [("department_code", ASCENDING), ("finished_at", ASCENDING), ("_id", ASCENDING)],
                name=AWAITING_SHIPMENT_INDEX,
                partialFilterExpression={"awaiting_shipment": True},
            ),
            # 一件事: the member cases of a bundle.
            IndexModel([("bundle_id", ASCENDING)], name="bundle_members", sparse=True),
            # GB/T 39734 export and KPIs: by department and time.
            IndexModel(
                [("department_code", ASCENDING), ("rating.at", ASCENDING)], name="department_rated"
            ),
            IndexModel(
                [("department_code", ASCENDING), ("submitted_at", ASCENDING)],
                name="department_submitted",
            ),
            # 容缺 housekeeping: pending supplements by deadline.
            IndexModel(
                [("status", ASCENDING), ("supplement_due_at", ASCENDING)], name="supplement_due"
            ),
            # 告知承诺 post-check queue.
            IndexModel(
                [
                    ("commitment", ASCENDING),
                    ("status", ASCENDING),
                    ("department_code", ASCENDING),
                    ("finished_at", ASCENDING),
                ],
                name="post_check",
            ),
        ],
        retired=["awaiting_shipment"],
    ),
]

# What `awaiting_shipment` means, as written before the flag existed: an approved case whose
# applicant chose POST, not shipped yet, whose applicant is not erased (their address is gone).
AWAITING_SHIPMENT_BEFORE_FLAG: Document = {
    "status": "APPROVED",
    "delivery.method": "POST",
    "delivery.shipment": None,
    "applicant_erased_at": None,
}


async def backfill_awaiting_shipment(db: AsyncDatabase[Document]) -> int:
    """Flag the cases of a database from before `awaiting_shipment` existed. Idempotent (a
    flagged case no longer matches); served by the retired index while it still exists."""
    done = await db["applications"].update_many(
        {**AWAITING_SHIPMENT_BEFORE_FLAG, "awaiting_shipment": {"$exists": False}},
        {"$set": {"awaiting_shipment": True}},
    )
    return done.modified_count


MIGRATIONS = [Migration("applications.awaiting_shipment", backfill_awaiting_shipment)]
