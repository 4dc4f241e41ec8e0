"""No mutation runs for an account that is being erased (or is gone), whichever process serves it.

An erasure (app/personal_data.py) first marks the account `erasing_at`, then revokes its
sessions. Another process may still trust such a session for a few seconds (its session cache),
and a request may have been authenticated just before: without a check at write time a
submission, draft, upload, grant or device registration could land for a person whose data is
being deleted. So every mutation by a signed-in caller reads the account's state first, from the
database (never cached), and is refused with `ACCOUNT_ERASING` if it is being erased. One place
for every write path, present and future, instead of a check each domain could forget.

What a request already past this check writes while the erasure runs is removed by the erasure's
sweep, which runs again once no such request can still be in flight (app/erasures.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pymongo
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from app.db import Document
from app.root_fields import mutation_root_fields
from auth.directory import UserDirectory, remembered_caller
from auth.errors import AccountErasingError
from notifications.store import PREFERENCES

# Mutations an account being erased may still call:
# - deleteMyAccount resumes an erasure that stopped part way;
# - logout only ends sessions;
# - verifyLicenceQr is a verifier's check of someone else's licence: it creates nothing about
#   the caller (the usage record is the holder's and the organisation's), and its round trips
#   are pinned (tests/electronic_cards/test_round_trips.py).
EXEMPT = frozenset({"deleteMyAccount", "logout", "verifyLicenceQr"})


def _mutation_fields(ctx: object) -> list[str]:
    # Fragments expanded (app/root_fields.py): a wrapped write is checked like a plain one.
    document = getattr(ctx, "graphql_document", None)
    return [f.name.value for f in mutation_root_fields(document)]


class ErasureGuard(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        viewer = getattr(ctx.context, "viewer", None)
        fields = _mutation_fields(ctx) if viewer is not None else []
        if viewer is None or all(f in EXEMPT for f in fields):
            yield
            return
        refusal: Exception | None = None
        caller: list[Document] | None = None
        try:
            # Its own database budget: multipart requests have no request-wide deadline
            # (app/http_guards.py), and this read comes before the resolver sets one. The
            # caller's notification preferences come with it: a notice to the caller in this
            # request needs no read of its own (auth.directory.remembered_caller).
            with pymongo.timeout(ctx.context.settings.db_request_timeout_seconds):
                directory = UserDirectory(ctx.context.state.db)
                caller = await directory.caller_account(viewer.user_id, PREFERENCES)
            if caller is None:
                refusal = AccountErasingError()
        except Exception as exc:  # an outage: masked as UNAVAILABLE like any resolver's
            refusal = exc
        if refusal is not None or caller is None:
            # A result set before `yield` skips execution: nothing is written.
            ctx.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        str(refusal),
                        original_error=refusal,
                        extensions=getattr(refusal, "extensions", None),
                    )
                ],
            )
            yield
            return
        with remembered_caller(viewer.user_id, PREFERENCES, caller):
            yield
