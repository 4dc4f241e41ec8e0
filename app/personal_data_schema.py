"""GraphQL for the PIPL rights: `exportMyData` and `deleteMyAccount` (thin; app/personal_data.py
does the work)."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.types import Info

from app import personal_data
from app.api_types import JSON, UserError, run_mutation
from app.context import Context
from app.errors import RateLimitedError
from app.ratelimit import Rate, RateLimiter

# A full export reads every collection a person appears in: a few per hour is plenty.
_EXPORTS = RateLimiter(Rate(5, 3600))


@strawberry.input(description="Confirm erasure with a fresh SMS code (requestLoginCode first).")
class DeleteMyAccountInput:
    code: str = strawberry.field(description="The 6-digit code sent to the account's phone.")


@strawberry.type(description="Result of deleteMyAccount.")
class DeleteMyAccountPayload:
    deleted: bool = strawberry.field(default=False, description="True when the account is gone.")
    retained: JSON | None = strawberry.field(
        default=None, description="What was deleted and what is kept by law, with counts."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was erased (e.g. OPEN_APPLICATIONS)."
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="个人信息导出 (PIPL art. 45): everything the service holds about me, as JSON "
        "(account, applications, licence metadata and usage records, inbox, devices, sessions). "
        "Five a hour."
    )
    async def export_my_data(self, info: Info[Context, None]) -> JSON:
        viewer = info.context.require_viewer()
        wait = _EXPORTS.hit(str(viewer.user_id))
        if wait > 0:
            raise RateLimitedError(
                "导出过于频繁，请稍后再试 (export rate limited)", retry_after=int(wait) + 1
            )
        return cast(JSON, await personal_data.export_all(info.context.state, viewer))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="注销账号 (PIPL art. 47): erase my account and personal data; case files "
        "and usage records the law requires are kept, detached. Needs a fresh SMS code."
    )
    async def delete_my_account(
        self, info: Info[Context, None], input: DeleteMyAccountInput
    ) -> DeleteMyAccountPayload:
        viewer = info.context.require_viewer()

        async def act() -> DeleteMyAccountPayload:
            counts = await personal_data.erase_all(info.context.state, viewer, input.code)
            return DeleteMyAccountPayload(deleted=True, retained=cast(JSON, counts))

        return await run_mutation(DeleteMyAccountPayload, act)
