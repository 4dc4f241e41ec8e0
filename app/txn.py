"""Several documents committed together: one `bulkWrite` in one transaction (two round trips).

Used by the hot paths (a licence check, a submission, a QR mint) to write what belongs together
atomically. It is also the cheaper way on SecantusDB: every *retryable* write there (a single
`insert`/`update` outside a transaction) is recorded for replay and costs a scan, and at the
cap a sort, of the last 30 minutes' records — milliseconds per write on a busy server, while the
database's one process holds its GIL — whereas the statements of a transaction are not recorded
and its commit is tracked by the transaction table (docs/operations.md, "Retryable writes").
A commit is applied once (the driver retries it once, and the transaction table answers a
retried commit); see `commit_together` for what happens when its result stays unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import pymongo
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import ClientBulkWriteException, PyMongoError
from pymongo.operations import InsertOne, UpdateMany, UpdateOne
from pymongo.results import ClientBulkWriteResult

from app.db import Document

DUPLICATE_KEY = 11000

Write = InsertOne[Document] | UpdateOne | UpdateMany


class DuplicateKeyAt(Exception):
    """Write `index` of the batch hit a unique index: the transaction was aborted, nothing of
    the batch is written."""

    def __init__(self, index: int) -> None:
        super().__init__(f"duplicate key at write {index}")
        self.index = index


async def commit_together(
    client: AsyncMongoClient[Document],
    writes: Sequence[Write],
    check: Callable[[ClientBulkWriteResult], None] | None = None,
) -> None:
    """All of `writes` (ordered) or none of them. `check` sees the batch's per-write results
    before the commit; whatever it raises aborts the transaction and is raised.

    The loop is `with_transaction`'s (a transient failure — a write conflict with a concurrent
    transaction — starts the transaction again, with jittered backoff, within RETRY_SECONDS and
    the request's database deadline) except for a commit whose result stays unknown after the
    driver's own retry: instead of retrying it until the deadline, the session is killed
    (`killSessions`: aborts the transaction if it is still open, changes nothing if it
    committed) and the error raised. A transaction left open would otherwise hold its
    documents' keys — an idempotency key, a notice's natural key — until the database reaps it
    (60 s), and the client's retry of the same request would be refused that long.
    """
    deadline = time.monotonic() + RETRY_SECONDS
    attempt = 0
    async with client.start_session(causal_consistency=False) as session:
        while True:
            await session.start_transaction()
            try:
                result = await _bulk_write(client, writes, session, verbose=check is not None)
                if check is not None:
                    check(result)
            except BaseException as exc:
                await session.abort_transaction()  # errors of the abort itself are ignored
                if _transient(exc) and time.monotonic() < deadline:
                    attempt += 1
                    await _backoff(attempt)
                    continue
                raise
            try:
                await session.commit_transaction()  # a retryable error is retried once inside
            except PyMongoError as exc:
                if _transient(exc) and time.monotonic() < deadline:
                    attempt += 1
                    await _backoff(attempt)
                    continue
                if exc.has_error_label("UnknownTransactionCommitResult"):
                    await _kill(client, session)
                raise
            return


RETRY_SECONDS = 120.0  # with_transaction's limit; the request's database deadline comes first


def _transient(exc: BaseException) -> bool:
    """Worth starting the transaction again: a conflict, a lost connection — not a timeout,
    which means the request's database deadline is spent (pymongo labels those transient too,
    and retrying them would spin until RETRY_SECONDS)."""
    return (
        isinstance(exc, PyMongoError)
        and exc.has_error_label("TransientTransactionError")
        and not exc.timeout
    )


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.random() * min(0.005 * 1.5**attempt, 1.0))  # noqa: S311 - jitter


async def _bulk_write(
    client: AsyncMongoClient[Document],
    writes: Sequence[Write],
    session: AsyncClientSession,
    *,
    verbose: bool,
) -> ClientBulkWriteResult:
    try:
        return await client.bulk_write(list(writes), session=session, verbose_results=verbose)
    except ClientBulkWriteException as exc:
        # pymongo wraps a conflict with a concurrent transaction in the bulk exception without
        # its TransientTransactionError label: raise the labelled error itself, so that the
        # transaction is tried again (measured: otherwise the loser fails outright).
        if isinstance(exc.error, PyMongoError):
            raise exc.error from exc
        errors: list[Any] = list(exc.write_errors or [])  # dicts, typed as WriteError
        for error in errors:
            if error.get("code") == DUPLICATE_KEY:
                raise DuplicateKeyAt(int(error["idx"])) from exc
        raise


async def _kill(client: AsyncMongoClient[Document], session: AsyncClientSession) -> None:
    """Abort the session's transaction if it is still open. The driver has usually spent the
    request's database deadline retrying the commit by now, so this runs in a task with a
    fresh context (no inherited deadline) and a budget of its own."""

    async def kill() -> None:
        with contextlib.suppress(PyMongoError), pymongo.timeout(KILL_SECONDS):
            await client.admin.command("killSessions", [session.session_id])

    # best effort: if this fails too, the database reaps the transaction after 60 s
    await asyncio.get_running_loop().create_task(kill(), context=contextvars.Context())


KILL_SECONDS = 2.0
