"""Minimal, valid GraphQL operations for any root field, built from the schema itself.

Each operation names one root field, passes every argument as a variable, fills the required
ones with harmless values of the right type, and selects only `__typename` (plus `userErrors`
on mutation payloads), so it runs cheaply and says whether the caller got past authorisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import graphql
from bson import ObjectId

from app.ids import to_global_id
from app.schema import export_sdl

Json = dict[str, Any]


@cache
def schema() -> graphql.GraphQLSchema:
    """The schema as the code builds it now (not the committed SDL: a new field shows at once)."""
    return graphql.build_schema(export_sdl())


def root_fields() -> list[tuple[str, str]]:
    """Every (`Query`|`Mutation`, field name) pair of the schema."""
    s = schema()
    pairs: list[tuple[str, str]] = []
    for root in (s.query_type, s.mutation_type):
        if root is not None:
            pairs.extend((root.name, name) for name in root.fields)
    return pairs


def _id_for(arg_name: str) -> str:
    """A well-formed id that names nothing: `licenceId` -> a `Licence` id of a fresh ObjectId.

    Well-formed, so the probe reaches the authorisation check instead of stopping at "bad id".
    """
    stem = arg_name[:-2] if arg_name.endswith("Id") and len(arg_name) > 2 else "Node"
    return to_global_id(stem[0].upper() + stem[1:], ObjectId())


def _sample(type_: graphql.GraphQLInputType, arg_name: str = "") -> Any:
    """A harmless value of an input type: required input fields only, lists empty."""
    inner = graphql.get_nullable_type(type_)
    if getattr(inner, "name", "") == "ID":
        return _id_for(arg_name)
    if isinstance(inner, graphql.GraphQLList):
        return []
    if isinstance(inner, graphql.GraphQLEnumType):
        return next(iter(inner.values))
    if isinstance(inner, graphql.GraphQLInputObjectType):
        return {
            name: _sample(field.type, name)
            for name, field in inner.fields.items()
            if graphql.is_required_input_field(field)
        }
    name = getattr(inner, "name", "")
    return {
        "ID": "x",
        "String": "x",
        "Int": 1,
        "Float": 36.07,
        "Boolean": False,
        "JSON": {},
        "DateTime": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "Date": (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
    }.get(name, "x")


def _selection(type_: graphql.GraphQLOutputType) -> str:
    named = graphql.get_named_type(type_)
    if isinstance(named, graphql.GraphQLObjectType):
        if "userErrors" in named.fields:
            return "{ __typename userErrors { field code message } }"
        return "{ __typename }"
    if isinstance(named, (graphql.GraphQLInterfaceType, graphql.GraphQLUnionType)):
        return "{ __typename }"
    return ""


@dataclass(frozen=True)
class Operation:
    root: str
    field: str
    query: str
    variables: Json

    def with_value(self, path: str, value: Any) -> Operation:
        """A copy with the argument at `path` ("id", "input.licenceId") set to `value`."""
        variables = _deep_copy(self.variables)
        *parents, last = path.split(".")
        target = variables
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
        return Operation(self.root, self.field, self.query, variables)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def operation(root: str, field_name: str) -> Operation:
    s = schema()
    root_type = s.query_type if root == "Query" else s.mutation_type
    assert root_type is not None
    field = root_type.fields[field_name]
    params = ", ".join(f"${n}: {a.type}" for n, a in field.args.items())
    arguments = ", ".join(f"{n}: ${n}" for n in field.args)
    keyword = "query" if root == "Query" else "mutation"
    head = f"{keyword} Probe({params})" if params else f"{keyword} Probe"
    call = f"{field_name}({arguments})" if arguments else field_name
    query = f"{head} {{ {call} {_selection(field.type)} }}"
    variables = {
        n: _sample(a.type, n)
        for n, a in field.args.items()
        if graphql.is_non_null_type(a.type) and a.default_value is graphql.Undefined
    }
    return Operation(root, field_name, query, variables)


def error_codes(payload: Json, field_name: str) -> set[str]:
    """Every error code of a response: top-level `extensions.code` and payload `userErrors`."""
    codes = {
        str((e.get("extensions") or {}).get("code", "NO_CODE")) for e in payload.get("errors") or []
    }
    data = (payload.get("data") or {}).get(field_name)
    if isinstance(data, dict):
        codes.update(str(e["code"]) for e in data.get("userErrors") or [])
    return codes
