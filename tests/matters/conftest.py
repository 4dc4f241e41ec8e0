"""Catalogue fixtures: the demo catalogue generated once per session, loaded per test."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from matters import demo
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.factories import Api, create_demo_user

OPERATOR = "13800000301"
ADMIN = "13800000901"
CITIZEN = "13800000001"


@cache
def demo_catalogue() -> demo.Catalogue:
    return demo.generate()


@pytest.fixture
async def catalogue(api: Api) -> demo.Catalogue:
    """The demo catalogue, published, in this test's database."""
    generated = demo_catalogue()
    await seed_catalogue(MatterStore(api.state.db), generated)
    return generated


@pytest.fixture
async def operator_token(api: Api) -> str:
    await create_demo_user(api.state, OPERATOR)
    return await api.token(OPERATOR)


@pytest.fixture
async def citizen_token(api: Api) -> str:
    await create_demo_user(api.state, CITIZEN)
    return await api.token(CITIZEN)


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in payload.get("errors", [])]
