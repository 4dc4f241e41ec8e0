"""申办 fixtures: the demo catalogue, demo people signed in, and GraphQL snippets."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from auth.identity_numbers import with_check_digit
from auth.models import AssuranceLevel, Role
from auth.service import UserSpec
from electronic_cards.demo import seed_demo_licences
from matters import demo
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.uploading import upload_png
from tests.factories import Api, create_demo_user, create_user

CITIZEN = "13800000001"  # 张三明, born 1985, 市南区
ELDER = "13800000003"  # 王秀英, born 1958, 市北区
CLERK = "13800000201"  # 周窗口, 青岛市行政审批服务局
OTHER_CLERK = UserSpec(
    "13800000209",
    (Role.CLERK, Role.CITIZEN),
    AssuranceLevel.L3,
    "钱公安",
    with_check_digit("37020219900101331"),
    "370202",
    department_code="370200-GAJ",
)

ELDER_CARD = "3702031100053"  # 老年人优待证办理, 市北区 (秒批)
BUSINESS = "3702020100001"  # 个体工商户设立登记, 市南区 (manual, 即办)
PROPERTY = "3702020700062"  # 不动产登记, 市南区 (容缺受理: 完税凭证 deferrable)
COMPANY = "3702020100082"  # 企业设立登记, 市南区 (organisations only)
RENTAL = "3702021100072"  # 公共租赁住房申请, 市南区 (告知承诺: 收入证明 may be a commitment)
VETERAN = "3702021100253"  # 退役军人优待证申领, 市南区 (manual; result: an e-licence, TYJRYDZ)

SUBMIT = """
mutation Submit($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    application { id status receiptNumber dueAt slaState pendingSupplements instantReasons
                  result { name licenceTypeCode holderName number licenceId
                           delivery { method status } }
                  timeline { action before after actorRole note } }
    userErrors { field code message }
  }
}"""

APPLICATION = """
query App($id: ID!) {
  application(id: $id) {
    id status deficiencies departmentCode
    timeline { at actorRole action before after note data }
  }
}"""


def clerk_mutation(name: str, input_type: str) -> str:
    return f"""
mutation Act($input: {input_type}!) {{
  {name}(input: $input) {{
    application {{ id status deficiencies departmentCode }}
    userErrors {{ field code message }}
  }}
}}"""


@cache
def demo_catalogue() -> demo.Catalogue:
    """The demo catalogue cut to the matters these tests use (seeding all ~400 per test is slow)."""
    full = demo.generate()
    wanted = {ELDER_CARD, BUSINESS, PROPERTY, COMPANY, RENTAL, VETERAN}
    matters = [m for m in full.matters if m.code in wanted]
    return demo.Catalogue(matters, full.departments, [], full.service_points)


@pytest.fixture
async def catalogue(api: Api) -> demo.Catalogue:
    generated = demo_catalogue()
    await seed_catalogue(MatterStore(api.state.db), generated)
    return generated


# Material references are checked at submission (the applicant's own uploads and licences), so
# the placeholders the input helpers below use stand for real ones, made by the fixtures that
# sign the applicant in; `ref` looks them up.
REFS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _fresh_refs() -> None:
    """Each test starts without placeholders (autouse: before the sign-in fixtures)."""
    REFS.clear()


def ref(placeholder: str) -> str:
    return REFS.get(placeholder, placeholder)


async def real_refs(api: Api, token: str, placeholders: list[str]) -> None:
    for name in placeholders:
        REFS[name] = await upload_png(api, token, seed=name)


async def licence_ref(api: Api, token: str, type_code: str) -> str:
    await seed_demo_licences(api.state.auth_service(), api.state.cards_service())
    data = await api.data("{ myLicences { id type { code } } }", token=token)
    return str(next(lic["id"] for lic in data["myLicences"] if lic["type"]["code"] == type_code))


async def elder_materials_of(api: Api, token: str) -> list[dict[str, Any]]:
    """elder_input's materials as the signed-in `token` user's own (another applicant)."""
    return [
        {
            "name": "居民身份证",
            "provision": "LICENCE",
            "reference": await licence_ref(api, token, "JMSFZ"),
        },
        {
            "name": "近期免冠照片",
            "provision": "UPLOAD",
            "reference": await upload_png(api, token, "me"),
        },
    ]


@pytest.fixture
async def citizen(api: Api, catalogue: demo.Catalogue) -> str:
    await create_demo_user(api.state, CITIZEN)
    token = await api.token(CITIZEN)
    await real_refs(api, token, ["file-1", "file-2", "file-3"])
    placeholders = ["f0", "f1", "f2", "t", "tax", "tax-1", *(f"f-{n}" for n in range(1, 7))]
    for i, name in enumerate(placeholders):
        REFS[name] = REFS[f"file-{i % 3 + 1}"]
    return token


@pytest.fixture
async def elder(api: Api, catalogue: demo.Catalogue) -> str:
    await create_demo_user(api.state, ELDER)
    token = await api.token(ELDER)
    await real_refs(api, token, ["photo-1"])
    REFS["licence-idcard"] = await licence_ref(api, token, "JMSFZ")
    return token


@pytest.fixture
async def clerk(api: Api, catalogue: demo.Catalogue) -> str:
    await create_demo_user(api.state, CLERK)
    return await api.token(CLERK)


@pytest.fixture
async def other_clerk(api: Api, catalogue: demo.Catalogue) -> str:
    await create_user(api.state, OTHER_CLERK)
    return await api.token(OTHER_CLERK.phone)


def business_input(key: str, **form: Any) -> dict[str, Any]:
    return {
        "matterCode": BUSINESS,
        "idempotencyKey": key,
        "form": {
            "businessName": "青岛市南区张记小吃店",
            "operatorName": "张三明",
            "idNumber": with_check_digit("37020219850615123"),
            "phone": "13800000001",
            "businessScope": "小吃服务",
            "address": "青岛市市南区香港中路1号",
            **form,
        },
        "materials": [
            {
                "name": "个体工商户登记（备案）申请书",
                "provision": "UPLOAD",
                "reference": ref("file-1"),
            },
            {"name": "经营者身份证明", "provision": "UPLOAD", "reference": ref("file-2")},
            {"name": "经营场所使用证明", "provision": "UPLOAD", "reference": ref("file-3")},
        ],
    }


async def own_business_input(api: Api, token: str | None, key: str, **form: Any) -> dict[str, Any]:
    """business_input whose three uploads belong to the signed-in `token` user (any applicant:
    submission refuses references to someone else's files)."""
    assert token is not None, "uploads need a signed-in applicant"
    await real_refs(api, token, ["file-1", "file-2", "file-3"])
    return business_input(key, **form)


def elder_input(key: str, id_number: str) -> dict[str, Any]:
    return {
        "matterCode": ELDER_CARD,
        "idempotencyKey": key,
        "form": {
            "applicantName": "王秀英",
            "idNumber": id_number,
            "phone": "13800000003",
            "address": "青岛市市北区辽宁路100号",
        },
        "materials": [
            {"name": "居民身份证", "provision": "LICENCE", "reference": ref("licence-idcard")},
            {"name": "近期免冠照片", "provision": "UPLOAD", "reference": ref("photo-1")},
        ],
    }


def errors(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


def top_codes(payload: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in payload.get("errors", [])]
