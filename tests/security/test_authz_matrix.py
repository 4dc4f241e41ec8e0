"""The authorisation matrix: every root field x every role x own / other's / no object.

Generated from the schema (tests/security/operations.py); the expected outcome of each cell
comes from the rules table in tests/security/authz_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from app.settings import Settings
from electronic_cards.demo import seed_demo_licences
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.flows.conftest import flow_catalogue
from tests.factories import Api
from tests.security import operations
from tests.security.authz_objects import OBJECT_KINDS, missing_id
from tests.security.authz_rules import RULES, Rule
from tests.security.roles import ROLES, Person, sign_in_everyone

DENIED = {"forbidden", "not_found"}
# Outcomes: unauthenticated, forbidden, not_found (NOT_FOUND or null), empty (an empty list),
# rejected (another userError: past authorisation, input refused), ok.


def classify(payload: dict[str, Any], field: str) -> str:
    """What a response says about authorisation: one of the outcome names below."""
    codes = operations.error_codes(payload, field)
    if "UNAUTHENTICATED" in codes:
        return "unauthenticated"
    if "FORBIDDEN" in codes:
        return "forbidden"
    data = payload.get("data") or {}
    if "NOT_FOUND" in codes or (field in data and data[field] is None):
        return "not_found"
    if data.get(field) == []:
        return "empty"  # a list of someone's things that says nothing (cannot tell own from none)
    return "rejected" if codes else "ok"


def expected(rule: Rule, role: str, obj: str) -> set[str]:
    """The outcomes a cell may show. `obj` is "own", "other" or "none"."""
    passed = {"ok", "rejected", "empty"}  # past authorisation; harmless input may be refused
    if role not in rule.allowed:
        return {"unauthenticated"} if role == "anonymous" else DENIED
    if rule.kind is None:
        return passed | {"not_found"}  # "x" names no matter, no campaign...
    if (obj == "own" and not rule.staff_only) or (obj != "none" and role in rule.readers_of_others):
        return passed
    return DENIED | {"empty"} | ({"rejected"} if obj == "none" else set())


@dataclass
class Cell:
    field: str
    role: str
    obj: str
    outcome: str
    allowed: set[str]


def rules_of(name: str) -> tuple[Rule, ...]:
    rules = RULES[name]
    return rules if isinstance(rules, tuple) else (rules,)


def test_every_root_field_has_a_rule() -> None:
    missing = [f"{root}.{name}" for root, name in operations.root_fields() if name not in RULES]
    assert not missing, "add a rule for " + ", ".join(missing) + " in tests/security/authz_rules.py"
    stale = set(RULES) - {name for _, name in operations.root_fields()}
    assert not stale, f"rules for fields the schema no longer has: {sorted(stale)}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every person of the matrix calls from one IP, and the object factories upload for each
    probe: the per-IP and upload rates are lifted here (the per-user limits stay on)."""
    return settings.model_copy(update={"rate_limit_per_ip": "100000/60", "upload_rate": "1000/600"})


@pytest.fixture
async def people(api: Api) -> dict[str, Person]:
    await seed_catalogue(MatterStore(api.state.db), flow_catalogue())  # with two 一件事
    everyone = await sign_in_everyone(api.state)
    await seed_demo_licences(api.state.auth_service(), api.state.cards_service())
    return everyone


@pytest.mark.slow
async def test_authorisation_matrix(api: Api, people: dict[str, Person]) -> None:
    other = people["other"]
    assert other.token
    others: dict[str, str | None] = {}
    cells: list[Cell] = []
    probes = [
        (root, name, rule)
        for root, name in operations.root_fields()
        if name in RULES  # else reported by test_every_root_field_has_a_rule
        for rule in rules_of(name)
    ]
    for root, name, rule in probes:
        base = operations.operation(root, name)
        objects = ("own", "other", "none") if rule.kind else ("none",)
        for role in ROLES:
            person = people[role]
            for obj in objects:
                op = base
                if rule.kind and rule.id_path:
                    factory, _ = OBJECT_KINDS[rule.kind]
                    if obj == "own":
                        if person.token is None:
                            continue
                        object_id = await factory(api, person.token)
                        if object_id is None:
                            continue  # this person cannot own one
                    elif obj == "other":
                        if rule.kind not in others:
                            others[rule.kind] = await factory(api, other.token)
                        object_id = others[rule.kind]
                        assert object_id, f"no {rule.kind} for the other citizen"
                    else:
                        object_id = missing_id(rule.kind)
                    op = base.with_value(rule.id_path, object_id)
                token = person.token
                if rule.ends_session and person.phone:
                    session = await api.state.auth_service().open_session_for_phone(
                        person.phone, method="test"
                    )
                    token = session.access_token
                response = await api.post(op.query, op.variables, token)
                assert response.status_code == 200, (name, role, obj, response.text)
                payload = response.json()
                for error in payload.get("errors") or []:
                    assert not error["message"].startswith("Unexpected error"), (
                        name,
                        role,
                        obj,
                        payload,
                    )
                label = f"{name}({rule.kind})" if rule.kind else name
                cells.append(
                    Cell(label, role, obj, classify(payload, name), expected(rule, role, obj))
                )
    wrong = [c for c in cells if c.outcome not in c.allowed]
    report = "\n".join(
        f"  {c.field:40} {c.role:10} {c.obj:6} got {c.outcome:16} want {sorted(c.allowed)}"
        for c in wrong
    )
    assert not wrong, f"{len(wrong)} of {len(cells)} cells disagree with authz_rules.py:\n{report}"
