"""Rules the schema itself must keep: exported SDL in sync, descriptions everywhere, names."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import graphql
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
)

from app.schema import build_schema, export_sdl
from app.settings import Settings

ROOT = Path(__file__).parents[2]
ROOT_TYPES = {"Query", "Mutation", "Subscription"}


def test_import_graphql_is_graphql_core() -> None:
    assert not (ROOT / "graphql" / "__init__.py").exists()
    spec = importlib.util.find_spec("graphql")
    assert spec is not None
    assert spec.origin is not None
    assert "site-packages" in spec.origin
    assert hasattr(graphql, "graphql_sync")


def test_committed_schema_equals_the_exported_one() -> None:
    committed = (ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), "run `make schema` and commit graphql/schema.graphql"


def _own_types() -> list[object]:
    schema = build_schema(Settings()).as_str()
    parsed = graphql.build_schema(schema)
    return [
        t
        for name, t in parsed.type_map.items()
        if not name.startswith("__")
        and not (isinstance(t, GraphQLScalarType) and name in graphql.specified_scalar_types)
    ]


def test_every_type_and_field_has_a_description() -> None:
    missing: list[str] = []
    for t in _own_types():
        name = t.name  # type: ignore[attr-defined]
        if name not in ROOT_TYPES and not t.description:  # type: ignore[attr-defined]
            missing.append(name)
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            missing += [f"{name}.{f}" for f, d in t.fields.items() if not d.description]
        if isinstance(t, GraphQLEnumType) and not t.description:
            missing.append(name)
    assert missing == []


def test_mutations_take_one_input_and_return_a_payload_with_user_errors() -> None:
    parsed = graphql.build_schema(export_sdl())
    mutation = parsed.mutation_type
    assert mutation is not None
    for name, field in mutation.fields.items():
        pascal = name[0].upper() + name[1:]
        assert list(field.args) == ["input"], name
        arg_type = graphql.get_named_type(field.args["input"].type)
        assert arg_type.name == f"{pascal}Input", name
        payload = graphql.get_named_type(field.type)
        assert payload.name == f"{pascal}Payload", name
        assert isinstance(payload, GraphQLObjectType)
        assert "userErrors" in payload.fields, name


def test_no_python_module_shadows_graphql_or_strawberry() -> None:
    offenders = [
        p
        for p in ROOT.rglob("*.py")
        if ".venv" not in p.parts and p.stem in {"graphql", "strawberry"}
    ]
    assert offenders == []
