"""Fixtures and snippets for the follow-on flows' tests (一件事, 代办, tickets, reports).

`catalogue` here overrides the package conftest's: it adds the members of two demo bundles
(开饭店一件事, 老年人优待一件事) to the matters the other tests use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from auth.identity_numbers import with_check_digit
from auth.models import AssuranceLevel, Role
from auth.service import UserSpec
from matters import demo
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.conftest import BUSINESS, COMPANY, ELDER_CARD, PROPERTY, RENTAL
from tests.factories import Api, create_demo_user, create_user

FOOD = "3702020100011"  # 食品经营许可, 市南区 (容缺: 食品安全管理制度 deferrable)
RESTAURANT = "YJS-RESTAURANT"  # 个体工商户设立登记 + 食品经营许可
ADMIN = "13800000901"
SUPERVISOR = "13800000202"  # 郑督查, 青岛市行政审批服务局 (a demo user)
OTHER_SUPERVISOR = UserSpec(
    "13800000208",
    (Role.SUPERVISOR, Role.CITIZEN),
    AssuranceLevel.L3,
    "冯督查",
    with_check_digit("37020219800303224"),
    "370202",
    department_code="370200-GAJ",
)


@cache
def flow_catalogue() -> demo.Catalogue:
    full = demo.generate()
    bundles = [b for b in full.bundles if b.code in (RESTAURANT, "YJS-ELDERLY")]
    wanted = {ELDER_CARD, BUSINESS, PROPERTY, COMPANY, RENTAL}
    wanted |= {c for b in bundles for c in b.matter_codes}
    matters = [m for m in full.matters if m.code in wanted]
    return demo.Catalogue(matters, full.departments, bundles, full.service_points)


@pytest.fixture
async def catalogue(api: Api) -> demo.Catalogue:
    generated = flow_catalogue()
    await seed_catalogue(MatterStore(api.state.db), generated)
    return generated


@pytest.fixture
async def admin(api: Api, catalogue: demo.Catalogue) -> str:
    await create_demo_user(api.state, ADMIN)
    return await api.token(ADMIN)


@pytest.fixture
async def supervisor(api: Api, catalogue: demo.Catalogue) -> str:
    await create_demo_user(api.state, SUPERVISOR)
    return await api.token(SUPERVISOR)


@pytest.fixture
async def other_supervisor(api: Api, catalogue: demo.Catalogue) -> str:
    await create_user(api.state, OTHER_SUPERVISOR)
    return await api.token(OTHER_SUPERVISOR.phone)


def restaurant_input(key: str, **form: Any) -> dict[str, Any]:
    """One merged form and one material set for 开饭店一件事 (张三明, 市南区)."""
    return {
        "bundleCode": RESTAURANT,
        "idempotencyKey": key,
        "deferralCommitment": True,
        "form": {
            "businessName": "青岛市南区张记小吃店",
            "operatorName": "张三明",
            "applicantType": "个人",
            "applicantName": "张三明",
            "idNumber": with_check_digit("37020219850615123"),
            "phone": "13800000001",
            "businessScope": "小吃服务",
            "address": "青岛市市南区香港中路1号",
            **form,
        },
        "materials": [
            {"name": "个体工商户登记（备案）申请书", "provision": "UPLOAD", "reference": "f-1"},
            {"name": "经营者身份证明", "provision": "UPLOAD", "reference": "f-2"},
            {"name": "经营场所使用证明", "provision": "UPLOAD", "reference": "f-3"},
            {"name": "食品经营许可申请书", "provision": "UPLOAD", "reference": "f-4"},
            {"name": "营业执照", "provision": "UPLOAD", "reference": "f-5"},
            {"name": "经营场所平面图", "provision": "UPLOAD", "reference": "f-6"},
        ],
    }


def payload_of(data: dict[str, Any]) -> dict[str, Any]:
    return dict(next(iter(data.values())))
