"""Operator mutations of the catalogue: create, edit, publish, withdraw, import.

Each returns a payload with `userErrors` (quality-rule codes for guides); access failures are
top-level FORBIDDEN / UNAUTHENTICATED errors.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.api_types import JSON, UserError, run_mutation
from app.context import Context
from matters.types import Matter


@strawberry.input(description="A new matter's guide (exchange-format or English keys).")
class CreateMatterInput:
    matter: JSON = strawberry.field(description="The whole guide as JSON.")


@strawberry.input(description="A changed guide: replaces the draft, or starts a new version.")
class EditMatterInput:
    code: str = strawberry.field(description="Matter code (cannot change).")
    matter: JSON = strawberry.field(description="The whole guide as JSON.")
    expected_version: int | None = strawberry.field(
        default=None, description="Version you edited; STALE_VERSION if it moved on."
    )


@strawberry.input(description="Publish a matter's draft (the previous version is kept).")
class PublishMatterInput:
    code: str = strawberry.field(description="Matter code.")


@strawberry.input(description="Take a matter out of the public catalogue.")
class WithdrawMatterInput:
    code: str = strawberry.field(description="Matter code.")
    reason: str | None = strawberry.field(default=None, description="Why, for the record.")


@strawberry.enum(description="Exchange file format.")
class ImportFormat(Enum):
    JSON = "JSON"
    CSV = "CSV"


@strawberry.input(description="Import matters in the province's exchange format.")
class ImportMattersInput:
    format: ImportFormat = strawberry.field(description="JSON or CSV.")
    content: str = strawberry.field(description="The file's text (UTF-8, at most 5 MB).")
    publish: bool = strawberry.field(default=True, description="Publish what is imported.")


@strawberry.type(description="Result of a catalogue mutation.")
class MatterPayload:
    matter: Matter | None = strawberry.field(default=None, description="The version written.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing changed (rule codes for guides)."
    )


@strawberry.type(description="Result of createMatter.")
class CreateMatterPayload(MatterPayload):
    pass


@strawberry.type(description="Result of editMatter.")
class EditMatterPayload(MatterPayload):
    pass


@strawberry.type(description="Result of publishMatter.")
class PublishMatterPayload(MatterPayload):
    pass


@strawberry.type(description="Result of withdrawMatter.")
class WithdrawMatterPayload(MatterPayload):
    pass


@strawberry.type(description="A row the importer rejected, with the rule it broke.")
class ImportRejection:
    row: int = strawberry.field(description="JSON: position from 1; CSV: line after header.")
    code: str | None = strawberry.field(description="Matter code of the row, if readable.")
    rule: str = strawberry.field(description="Data-quality rule broken (e.g. PHONES_MUST_DIFFER).")
    field: str | None = strawberry.field(description="Field at fault.")
    message: str = strawberry.field(description="Explanation (Chinese).")


@strawberry.type(description="Result of importMatters.")
class ImportMattersPayload:
    imported: list[str] = strawberry.field(
        default_factory=list, description="Codes of matters imported whole."
    )
    rejected: list[ImportRejection] = strawberry.field(
        default_factory=list, description="Every rejected row."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the file could not be read at all."
    )


P = TypeVar("P", bound=MatterPayload)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a matter's first draft. Operators only.")
    async def create_matter(
        self, info: Info[Context, None], input: CreateMatterInput
    ) -> CreateMatterPayload:
        viewer = info.context.require_viewer()

        async def act() -> CreateMatterPayload:
            record = await info.context.matters.create(viewer, input.matter)
            return CreateMatterPayload(matter=Matter.of(record))

        return await run_mutation(CreateMatterPayload, act)

    @strawberry.mutation(description="Edit a matter's guide as a draft. Operators only.")
    async def edit_matter(
        self, info: Info[Context, None], input: EditMatterInput
    ) -> EditMatterPayload:
        viewer = info.context.require_viewer()

        async def act() -> EditMatterPayload:
            record = await info.context.matters.edit(
                viewer, input.code, input.matter, input.expected_version
            )
            return EditMatterPayload(matter=Matter.of(record))

        return await run_mutation(EditMatterPayload, act)

    @strawberry.mutation(description="Publish a matter's draft. Operators only.")
    async def publish_matter(
        self, info: Info[Context, None], input: PublishMatterInput
    ) -> PublishMatterPayload:
        viewer = info.context.require_viewer()

        async def act() -> PublishMatterPayload:
            record = await info.context.matters.publish(viewer, input.code)
            return PublishMatterPayload(matter=Matter.of(record))

        return await run_mutation(PublishMatterPayload, act)

    @strawberry.mutation(description="Withdraw a published matter. Operators only.")
    async def withdraw_matter(
        self, info: Info[Context, None], input: WithdrawMatterInput
    ) -> WithdrawMatterPayload:
        viewer = info.context.require_viewer()

        async def act() -> WithdrawMatterPayload:
            record = await info.context.matters.withdraw(viewer, input.code)
            return WithdrawMatterPayload(matter=Matter.of(record))

        return await run_mutation(WithdrawMatterPayload, act)

    @strawberry.mutation(
        description="Import matters (JSON or CSV exchange format). Operators only."
    )
    async def import_matters(
        self, info: Info[Context, None], input: ImportMattersInput
    ) -> ImportMattersPayload:
        viewer = info.context.require_viewer()

        async def act() -> ImportMattersPayload:
            imported, rejected = await info.context.matters.import_matters(
                viewer, input.format.value, input.content, input.publish
            )
            return ImportMattersPayload(
                imported=imported,
                rejected=[
                    ImportRejection(
                        row=r.row, code=r.code, rule=r.rule, field=r.field, message=r.message
                    )
                    for r in rejected
                ],
            )

        return await run_mutation(ImportMattersPayload, act)
