"""Several documents committed together: one `bulkWrite` in one transaction (two round trips).

Used by the hot paths (a licence check, a submission, a QR mint) to write what belongs together
atomically. It is also the cheaper way on SecantusDB: every *retryable* write there (a single
`insert`/`update` outside a transaction) is recorded for replay and costs a scan, and at the
cap a sort, of the last 30 minutes' records — milliseconds per write on a busy server, while the
database's one process holds its GIL — whereas the statements of a transaction are not recorded
and its commit is tracked by the transaction table (docs/operations.md, "Retryable writes").
Guarantees are the driver's: `with_transaction` retries a transient failure of the whole
transaction and an unknown commit result, and a commit is applied once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import ClientBulkWriteException, PyMongoError
from pymongo.operations import InsertOne, UpdateMany, UpdateOne

from app.db import Document

DUPLICATE_KEY = 11000

Write = InsertOne[Document] | UpdateOne | UpdateMany


class DuplicateKeyAt(Exception):
    """Write `index` of the batch hit a unique index: the transaction was aborted, nothing of
    the batch is written."""

    def __init__(self, index: int) -> None:
        super().__init__(f"duplicate key at write {index}")
        self.index = index


async def commit_together(client: AsyncMongoClient[Document], writes: Sequence[Write]) -> None:
    """All of `writes` (ordered) or none of them."""

    async def run(session: AsyncClientSession) -> None:
        try:
            await client.bulk_write(list(writes), session=session)
        except ClientBulkWriteException as exc:
            # pymongo wraps a conflict with a concurrent transaction in the bulk exception
            # without its TransientTransactionError label: raise the labelled error itself so
            # that with_transaction retries (measured: otherwise the loser of two concurrent
            # transactions fails outright).
            if isinstance(exc.error, PyMongoError):
                raise exc.error from exc
            errors: list[Any] = list(exc.write_errors or [])  # dicts, typed as WriteError
            for error in errors:
                if error.get("code") == DUPLICATE_KEY:
                    raise DuplicateKeyAt(int(error["idx"])) from exc
            raise

    # Without causal consistency: a retried transaction would otherwise open with a readConcern
    # (afterClusterTime of the failed try), which SecantusDB refuses on a `bulkWrite` (measured:
    # "BSON field 'bulkWrite.readConcern' is an unknown field"). The session holds this one
    # transaction on the primary, so there is no earlier read of ours to be causally after.
    async with client.start_session(causal_consistency=False) as session:
        await session.with_transaction(run)
