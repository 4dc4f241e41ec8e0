"""NoSQL operator injection: no client value ever reaches MongoDB as an operator or a path.

Two doors exist. String and ID inputs are typed: GraphQL refuses an object in their place before
any resolver runs (proved for every such argument of the schema). JSON inputs (form data, matter
documents) accept objects: every one is probed with operator-shaped and dotted keys, and the test
then walks every document the service stored, looking for a key that starts with `$` or holds a
dot (either would be an operator or a path the next query could trip over).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import graphql
import pytest

from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.conftest import BUSINESS, business_input, demo_catalogue, own_business_input
from tests.factories import Api
from tests.security import operations
from tests.security.authz_rules import RULES
from tests.security.roles import ROLES, sign_in_everyone

OPERATOR_VALUES: list[Any] = [
    {"$gt": ""},
    {"$ne": None},
    {"$where": "function() { sleep(1000); return true; }"},
    {"$regex": ".*"},
    ["$gt", ""],
]
INJECTED_JSON: list[Any] = [
    {"$gt": ""},
    {"$where": "function() { return true; }"},
    {"a.b": 1},
    {"$set": {"roles": ["ADMIN"]}},
    {"nested": {"$ne": None, "x.y": {"$in": [1]}}},
    {"list": [{"$expr": {"$eq": [1, 1]}}]},
]


def _string_positions() -> Iterator[tuple[str, str, str]]:
    """(root, field, dotted path) of every String or ID argument and input-object field."""
    s = operations.schema()
    for root_name, field_name in operations.root_fields():
        root = s.query_type if root_name == "Query" else s.mutation_type
        assert root is not None
        for arg_name, arg in root.fields[field_name].args.items():
            named = graphql.get_named_type(arg.type)
            if isinstance(named, graphql.GraphQLInputObjectType):
                for inner_name, inner in named.fields.items():
                    if getattr(graphql.get_named_type(inner.type), "name", "") in ("String", "ID"):
                        yield root_name, field_name, f"{arg_name}.{inner_name}"
            elif named.name in ("String", "ID"):
                yield root_name, field_name, arg_name


def json_positions() -> list[tuple[str, str, str]]:
    """(root, field, dotted path) of every JSON-typed argument or input field."""
    s = operations.schema()
    found = []
    for root_name, field_name in operations.root_fields():
        root = s.query_type if root_name == "Query" else s.mutation_type
        assert root is not None
        for arg_name, arg in root.fields[field_name].args.items():
            named = graphql.get_named_type(arg.type)
            if isinstance(named, graphql.GraphQLInputObjectType):
                for inner_name, inner in named.fields.items():
                    if getattr(graphql.get_named_type(inner.type), "name", "") == "JSON":
                        found.append((root_name, field_name, f"{arg_name}.{inner_name}"))
            elif named.name == "JSON":
                found.append((root_name, field_name, arg_name))
    return found


async def test_operator_objects_never_pass_for_strings_or_ids(api: Api) -> None:
    people = await sign_in_everyone(api.state)
    token = people["admin"].token  # the widest role: the refusal must not depend on who asks
    positions = list(_string_positions())
    assert len(positions) > 40, positions  # the schema has many; a walk that finds few is broken
    for root, field, path in positions:
        base = operations.operation(root, field)
        for value in OPERATOR_VALUES[:2]:
            op = base.with_value(path, value)
            payload = (await api.post(op.query, op.variables, token)).json()
            errors = payload.get("errors") or []
            assert errors, (field, path, payload)
            assert payload.get("data") is None, (field, path, payload)
            # refused while the variables were coerced: no resolver ran (no `path`)
            assert all("path" not in e for e in errors), (field, path, payload)


# JSON inputs the test knows how to reach with a meaningful caller; a new one fails the test
# until a case is added here (so nobody adds a JSON input without an injection test).
JSON_INPUT_CALLERS = {
    "createMatter": "operator",
    "editMatter": "operator",
    "submitApplication": "citizen",
    "resubmitApplication": "citizen",
    "saveApplicationDraft": "citizen",
    "submitBundle": "citizen",
}


# A draft keeps whatever was typed so far (validation runs at submission); what it stores is
# still checked by the scan of every document below.
MAY_KEEP_UNKNOWN_KEYS = {"saveApplicationDraft"}


def _walk_keys(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(key, str) and (key.startswith("$") or "." in key):
                yield f"{where}.{key}"
            yield from _walk_keys(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _walk_keys(inner, f"{where}[{i}]")


async def _stored_operator_keys(api: Api) -> list[str]:
    found: list[str] = []
    for name in await api.state.db.list_collection_names():
        async for doc in api.state.db[name].find({}):
            found.extend(_walk_keys(doc, f"{name}:{doc.get('_id')}"))
    return found


async def test_every_json_input_is_known_to_this_test() -> None:
    fields = {field for _, field, _ in json_positions()}
    missing = fields - set(JSON_INPUT_CALLERS)
    assert not missing, f"add an injection case for the JSON input(s) of {sorted(missing)}"


@pytest.mark.slow
async def test_json_inputs_never_store_or_run_operators(api: Api) -> None:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    people = await sign_in_everyone(api.state)
    assert set(RULES) >= set(JSON_INPUT_CALLERS)
    assert set(JSON_INPUT_CALLERS.values()) <= set(ROLES)
    citizen = people["citizen"].token
    # an application to resubmit / draft against
    submitted = await api.data(
        """mutation($input: SubmitApplicationInput!) {
          submitApplication(input: $input) { application { id } userErrors { code } } }""",
        {"input": await own_business_input(api, citizen, uuid.uuid4().hex)},
        citizen,
    )
    app_id = submitted["submitApplication"]["application"]["id"]
    for root, field, path in json_positions():
        token = people[JSON_INPUT_CALLERS[field]].token
        base = operations.operation(root, field)
        if field in ("submitApplication", "saveApplicationDraft"):
            base = base.with_value("input.matterCode", BUSINESS)
        if field == "resubmitApplication":
            base = base.with_value("input.applicationId", app_id)
        if field == "editMatter":
            base = base.with_value("input.code", BUSINESS)
        for index, value in enumerate(INJECTED_JSON):
            op = base
            if field == "submitApplication":
                op = op.with_value("input.idempotencyKey", f"inj-{index}-{uuid.uuid4().hex}")
            good_form = business_input("k")["form"]
            # alone, and mixed into an otherwise valid form (the harder case for a validator)
            for candidate in (value, {**good_form, **value} if isinstance(value, dict) else value):
                probe = op.with_value(path, candidate)
                response = await api.post(probe.query, probe.variables, token)
                assert response.status_code == 200, (field, candidate, response.text)
                payload = response.json()
                for error in payload.get("errors") or []:
                    assert not error["message"].startswith("Unexpected error"), (
                        field,
                        candidate,
                        payload,
                    )
                result = (payload.get("data") or {}).get(field) or {}
                if field not in MAY_KEEP_UNKNOWN_KEYS:
                    assert result.get("userErrors"), (field, candidate, payload)
    leaked = await _stored_operator_keys(api)
    assert not leaked, f"documents hold operator-shaped or dotted keys: {leaked[:10]}"


async def test_form_field_values_that_are_operators_are_refused(api: Api) -> None:
    """A form value shaped like a query operator is a type error, never a filter."""
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    people = await sign_in_everyone(api.state)
    for value in OPERATOR_VALUES:
        variables = {"input": business_input(uuid.uuid4().hex, idNumber=value, phone=value)}
        payload = await api.data(
            """mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {
                application { id } userErrors { field code } } }""",
            variables,
            people["citizen"].token,
        )
        result = payload["submitApplication"]
        assert result["application"] is None
        assert {e["field"] for e in result["userErrors"]} >= {"form.idNumber", "form.phone"}, result
