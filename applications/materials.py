"""Checking the materials of a submission against the matter's situation.

Rules (requirements B4–B6): every required core material must be given; a deferrable one may be
missing only when the matter offers 容缺受理 and the applicant signed the 容缺 commitment (it then
becomes a pending supplement); a commitment may replace a material only when the material allows
it and the matter offers 告知承诺; an e-licence reference only for a material an e-licence
satisfies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import DomainError
from applications.models import MaterialRef, Provision
from matters.models import Matter, ServiceMode, Situation

MAX_MATERIALS = 50
MAX_REFERENCE = 200


@dataclass(frozen=True, slots=True)
class MaterialCheck:
    given: list[MaterialRef]
    pending: list[str]  # deferred under 容缺
    commitment: bool  # some proof replaced by 告知承诺: flag for post-checking
    errors: list[DomainError]


def _err(field: str, code: str, message: str) -> DomainError:
    return DomainError(message, code=code, field=field)


def check(
    matter: Matter, situation: Situation, raw: list[Any], deferral_commitment: bool
) -> MaterialCheck:
    by_name = {m.name: m for m in situation.materials}
    given: list[MaterialRef] = []
    errors: list[DomainError] = []
    if len(raw) > MAX_MATERIALS:
        return MaterialCheck([], [], False, [_err("materials", "TOO_LONG", "材料过多")])
    for i, item in enumerate(raw):
        field = f"materials[{i}]"
        if not isinstance(item, MaterialRef):
            errors.append(_err(field, "INVALID_INPUT", "材料格式不正确"))
            continue
        spec = by_name.get(item.name)
        if spec is None:
            errors.append(_err(f"{field}.name", "UNKNOWN_MATERIAL", f"本情形不需要“{item.name}”"))
            continue
        if any(g.name == item.name for g in given):
            errors.append(_err(f"{field}.name", "DUPLICATE_MATERIAL", f"“{item.name}”重复提交"))
            continue
        ref = item.reference
        if item.provision is not Provision.COMMITMENT and (
            not ref or len(ref) > MAX_REFERENCE or not ref.isprintable()
        ):
            errors.append(_err(f"{field}.reference", "INVALID_REFERENCE", "材料引用无效"))
            continue
        if item.provision is Provision.LICENCE and spec.licence_type_code is None:
            errors.append(
                _err(
                    f"{field}.provision", "LICENCE_NOT_ACCEPTED", f"“{item.name}”不能以电子证照代替"
                )
            )
            continue
        if item.provision is Provision.COMMITMENT and not (
            spec.replaceable_by_commitment and ServiceMode.COMMITMENT in matter.service_modes
        ):
            errors.append(
                _err(
                    f"{field}.provision",
                    "COMMITMENT_NOT_ALLOWED",
                    f"“{item.name}”不适用告知承诺",
                )
            )
            continue
        given.append(item)
    names = {g.name for g in given}
    deferral_offered = ServiceMode.DEFERRED_MATERIALS in matter.service_modes
    pending: list[str] = []
    for spec in situation.materials:
        if not spec.required or spec.name in names:
            continue
        if spec.deferrable and deferral_offered and deferral_commitment:
            pending.append(spec.name)
        elif spec.deferrable and deferral_offered:
            errors.append(
                _err(
                    "deferralCommitment",
                    "DEFERRAL_COMMITMENT_REQUIRED",
                    f"缺少“{spec.name}”：容缺受理须签署容缺受理承诺书",
                )
            )
        else:
            errors.append(_err("materials", "MISSING_MATERIAL", f"缺少必要材料“{spec.name}”"))
    commitment = any(g.provision is Provision.COMMITMENT for g in given)
    return MaterialCheck(given, pending, commitment, errors)
