"""National vocabulary more than one domain speaks (one GraphQL enum per concept)."""

from __future__ import annotations

from enum import StrEnum

import strawberry


@strawberry.enum(
    description="服务对象 / 推送对象: PERSON 个人 (natural persons), ORGANIZATION 法人 "
    "(legal persons, incl. 个体工商户)."
)
class Audience(StrEnum):
    PERSON = "个人"
    ORGANIZATION = "法人"
