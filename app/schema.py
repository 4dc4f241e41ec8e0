"""Joins the domains' Query and Mutation types into one schema, with the API's guard rails."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

import strawberry
from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition
from strawberry.types.execution import PreExecutionError

from app import personal_data_schema
from app.audit_extension import PrivilegedAudit
from app.erasure_guard import ErasureGuard
from app.errors import DomainError, MaskUnexpectedErrors, is_transient, should_mask
from app.observability import GRAPHQL_ERRORS, GRAPHQL_LATENCY, GRAPHQL_OPERATIONS
from app.settings import Settings
from applications import delivery_schema as application_delivery_schema
from applications import flow_schema as application_flows_schema
from applications import schema as applications_schema
from applications.uploads import schema as uploads_schema
from auth import schema as auth_schema
from electronic_cards import schema as cards_schema
from matters import schema as matters_schema
from notifications import schema as notifications_schema

log = logging.getLogger(__name__)

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
        if isinstance(ctx.result, PreExecutionError):
            GRAPHQL_ERRORS.labels(name, "validation").inc()
        elif ctx.result is not None and getattr(ctx.result, "errors", None):
            GRAPHQL_ERRORS.labels(name, "execution").inc()


class ZsbSchema(strawberry.Schema):
    """Logs unexpected errors (with the request id, before MaskErrors hides them); expected
    ones — validation, sign-in, permission — are the client's business, not an incident."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, (DomainError, GraphQLError)):
                log.debug("graphql error", extra={"error": error.message})
            elif is_transient(original):  # an outage, reported once by readiness; not a bug
                log.warning("database unavailable", extra={"error": repr(original)})
            else:
                log.error(
                    "unexpected error in resolver",
                    exc_info=(type(original), original, original.__traceback__),
                    extra={"path": error.path},
                )


Query = merge_types(
    "Query",
    (
        auth_schema.Query,
        matters_schema.Query,
        applications_schema.Query,
        uploads_schema.Query,
        application_flows_schema.Query,
        application_delivery_schema.Query,
        cards_schema.Query,
        notifications_schema.Query,
        personal_data_schema.Query,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        auth_schema.Mutation,
        matters_schema.Mutation,
        applications_schema.Mutation,
        uploads_schema.Mutation,
        application_flows_schema.Mutation,
        application_delivery_schema.Mutation,
        cards_schema.Mutation,
        notifications_schema.Mutation,
        personal_data_schema.Mutation,
    ),
)
Subscription = merge_types("Subscription", (notifications_schema.Subscription,))
for _root, _about in (
    (Query, "Reads: guides and search are public; everything personal needs sign-in."),
    (Mutation, "Changes: each takes one `input` and returns a payload with `userErrors`."),
    (Subscription, "Live updates over the graphql-transport-ws WebSocket."),
):
    get_object_definition(_root, strict=True).description = _about


def build_schema(settings: Settings) -> strawberry.Schema:
    # Factories, so each request gets fresh extension instances (the parse and validation
    # caches themselves are shared module-level LRUs inside strawberry). The depth and alias
    # rules are built once: the validation cache keys on the rule classes, and a limiter built
    # per request makes a new class each time, so nothing would ever be a cache hit.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    extensions: list[Callable[[], SchemaExtension]] = [
        OperationMetrics,
        PrivilegedAudit,
        ErasureGuard,
        lambda: ParserCache(maxsize=2048),
        lambda: ValidationCache(maxsize=2048),
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: MaskUnexpectedErrors(should_mask, "Unexpected error."),
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return ZsbSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        # Field suggestions ("did you mean …") would describe the schema to production probers.
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
    )


def export_sdl() -> str:
    """The SDL the code defines (what `zsb schema` prints and graphql/schema.graphql holds)."""
    return build_schema(Settings()).as_str() + "\n"
