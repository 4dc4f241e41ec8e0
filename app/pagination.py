"""Relay connections with keyset pagination: `first`/`after`, capped at 100, never `skip`.

A cursor is the sort key of the last node seen (opaque to clients), so pages stay stable while
documents are inserted, and every page is one index range scan.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from bson import json_util
from pymongo.asynchronous.collection import AsyncCollection

from app.errors import DomainError

MAX_PAGE = 100
DEFAULT_PAGE = 20

T = TypeVar("T")
N = TypeVar("N")


class PaginationError(DomainError):
    code = "INVALID_PAGINATION"


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when a further page exists.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to fetch the next page; null on an empty page."
    )


@strawberry.type(description="A node and the cursor that points just after it.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Opaque position of this item in the list.")


@strawberry.type(description="A page of a list (Relay connection, keyset-paginated).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page with cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more items follow.")

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise PaginationError(
            f"first 须在 0 到 {MAX_PAGE} 之间 (first must be 0..{MAX_PAGE})", field="first"
        )
    return first


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json_util.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        if len(cursor) > 512:
            raise ValueError("cursor too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json_util.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise PaginationError("无效的分页游标 (malformed cursor)", field="after") from exc
    if not isinstance(values, list) or len(values) != width:
        raise PaginationError("无效的分页游标 (malformed cursor)", field="after")
    if any(isinstance(v, dict) for v in values):  # no operators smuggled into a filter
        raise PaginationError("无效的分页游标 (malformed cursor)", field="after")
    return values


@dataclass(frozen=True, slots=True)
class SortKey:
    """Fields a list is ordered by, ending with a unique one (usually `_id`)."""

    fields: tuple[tuple[str, int], ...]

    def after(self, values: Sequence[Any]) -> dict[str, Any]:
        """The filter selecting documents strictly after `values` in this order."""
        clauses = []
        for i, (name, direction) in enumerate(self.fields):
            clause = {f: values[j] for j, (f, _) in enumerate(self.fields[:i])}
            clause[name] = {"$gt" if direction > 0 else "$lt": values[i]}
            clauses.append(clause)
        return {"$or": clauses}

    def values_of(self, doc: dict[str, Any]) -> list[Any]:
        return [doc.get(name) for name, _ in self.fields]


async def paginate(
    collection: AsyncCollection[dict[str, Any]],
    query: dict[str, Any],
    sort: SortKey,
    first: int | None,
    after: str | None,
    to_node: Callable[[dict[str, Any]], N],
    *,
    hint: str | None = None,
) -> Connection[N]:
    """One keyset page. `hint`: the index to use, where the planner would not pick it (a
    partial index whose filter it cannot match to the query's)."""
    size = page_size(first)
    if after:
        query = {"$and": [query, sort.after(decode_cursor(after, len(sort.fields)))]}
    cursor = collection.find(query).sort(list(sort.fields)).limit(size + 1)
    if hint is not None:
        cursor = cursor.hint(hint)
    docs = await cursor.to_list(size + 1)
    edges = [Edge(node=to_node(d), cursor=encode_cursor(sort.values_of(d))) for d in docs[:size]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(docs) > size,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
