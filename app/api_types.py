"""GraphQL building blocks every domain uses: `UserError`, the JSON scalar, mutation plumbing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from strawberry.scalars import JSON

from app.errors import AccessError, DomainError

__all__ = ["JSON", "UserError", "run_mutation"]


@strawberry.type(description="An expected failure of a mutation, tied to the input field at fault.")
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault (camelCase path), or null for the whole input."
    )
    code: str = strawberry.field(
        description="A stable, machine-readable code such as INVALID_PHONE or RATE_LIMITED."
    )
    message: str = strawberry.field(description="A message fit to show to the user (Chinese).")

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(field=error.field, code=error.code, message=error.message)


P = TypeVar("P")


async def run_mutation(payload: Callable[..., P], action: Callable[[], Awaitable[P]]) -> P:
    """Run a mutation's service call; expected failures become the payload's `userErrors`.

    Access errors stay top-level errors (UNAUTHENTICATED / FORBIDDEN); anything unexpected
    propagates to be logged and masked.
    """
    try:
        return await action()
    except AccessError:
        raise
    except DomainError as exc:
        return payload(user_errors=[UserError.of(e) for e in exc.errors])
