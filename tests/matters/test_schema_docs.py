"""Every catalogue type, field and input field in the exported schema has a description."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLObjectType, GraphQLScalarType

from app.schema import build_schema
from app.settings import Settings

CATALOGUE_ROOTS = {
    "matter", "matters", "searchMatters", "bundles", "lifeEvents", "departments", "regions",
    "nearbyServicePoints", "hotMatters", "catalogueStats", "matterVersions", "createMatter",
    "editMatter", "publishMatter", "withdrawMatter", "importMatters",
}  # fmt: skip


def test_catalogue_types_and_fields_are_described() -> None:
    schema = build_schema(Settings.model_validate({"demo_data": False}))._schema
    missing = []
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            if name in CATALOGUE_ROOTS and not field.description:
                missing.append(f"{root.name}.{name}")
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or isinstance(type_, GraphQLScalarType):
            continue
        if not type_.description and type_.name not in ("Query", "Mutation"):
            missing.append(type_.name)
        if isinstance(type_, (GraphQLObjectType, GraphQLInputObjectType)):
            for name, field in type_.fields.items():
                if type_.name not in ("Query", "Mutation") and not field.description:
                    missing.append(f"{type_.name}.{name}")
    assert missing == []
