"""Joins the domains' Query and Mutation types into one schema, with the API's guard rails."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import ClassVar

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types

from app.errors import should_mask
from app.observability import GRAPHQL_ERRORS, GRAPHQL_LATENCY, GRAPHQL_OPERATIONS
from app.settings import Settings
from applications import schema as applications_schema
from auth import schema as auth_schema
from graphql import OperationDefinitionNode
from matters import schema as matters_schema

_MAX_OPERATION_LABELS = 200  # unnamed or unknown names share one label: bounded cardinality


class OperationMetrics(SchemaExtension):
    """Counts and times every operation by name, and counts those that returned errors."""

    _seen: ClassVar[set[str]] = set()

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        name = ctx.operation_name or "anonymous"
        if name not in self._seen and len(self._seen) >= _MAX_OPERATION_LABELS:
            name = "other"
        self._seen.add(name)
        op_type = "unknown"
        document = ctx.graphql_document
        if document is not None:
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    op_type = definition.operation.value
                    break
        GRAPHQL_OPERATIONS.labels(name, op_type).inc()
        GRAPHQL_LATENCY.labels(name).observe(time.perf_counter() - started)
        result = ctx.result
        if result is not None and getattr(result, "errors", None):
            kind = "execution" if getattr(result, "data", None) is not None else "request"
            GRAPHQL_ERRORS.labels(name, kind).inc()


Query = merge_types("Query", (auth_schema.Query, matters_schema.Query, applications_schema.Query))
Mutation = merge_types(
    "Mutation", (auth_schema.Mutation, matters_schema.Mutation, applications_schema.Mutation)
)


def build_schema(settings: Settings) -> strawberry.Schema:
    # Factories, so each request gets fresh extension instances (the parse and validation
    # caches themselves are shared module-level LRUs inside strawberry).
    extensions: list[Callable[[], SchemaExtension]] = [
        OperationMetrics,
        lambda: ParserCache(maxsize=2048),
        lambda: ValidationCache(maxsize=2048),
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: MaskErrors(should_mask_error=should_mask, error_message="Unexpected error."),
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions)


def export_sdl() -> str:
    """The SDL the code defines (what `zsb schema` prints and graphql/schema.graphql holds)."""
    return build_schema(Settings()).as_str() + "\n"
