"""The wallet's part of the schema documents itself, and the SDL file matches the code."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from app.schema import build_schema, export_sdl
from app.settings import Settings

WALLET_TYPES = {
    "Licence",
    "LicenceType",
    "LicenceQr",
    "LicenceUsageRecord",
    "LicenceUsageRecordConnection",
    "VerifiedLicence",
    "VerifierOrganization",
    "LicenceGrant",
    "LicenceDelegation",
    "LicenceCorrectionTicket",
    "GrantedLicence",
    "LicenceStatus",
    "QrMode",
    "VerificationResult",
}


def test_every_wallet_type_and_field_is_described() -> None:
    schema = build_schema(Settings())._schema
    names = set(WALLET_TYPES)
    names |= {n for n in schema.type_map if n.endswith(("Input", "Payload")) and "Licence" in n}
    missing = []
    for name in sorted(names):
        kind = schema.type_map[name]
        if not kind.description:
            missing.append(name)
        if isinstance(kind, (GraphQLObjectType, GraphQLInputObjectType)):
            missing += [f"{name}.{f}" for f, d in kind.fields.items() if not d.description]
        assert isinstance(kind, (GraphQLObjectType, GraphQLInputObjectType, GraphQLEnumType))
    for root in ("Query", "Mutation"):
        root_type = schema.type_map[root]
        assert isinstance(root_type, GraphQLObjectType)
        fields = root_type.fields
        missing += [
            f"{root}.{f}"
            for f, d in fields.items()
            if ("icence" in f or "Qr" in f) and not d.description
        ]
    assert missing == []


def test_schema_file_matches_the_code() -> None:
    sdl = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"
    assert sdl.read_text() == export_sdl()
