"""Data-quality rules for a guide (anchors b12), beyond the per-field checks in the models.

Every write path (create, edit, import) runs them, so a published guide never contradicts
itself: a citizen told "不见面" must not be asked to come to the hall.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from matters.errors import QualityError
from matters.models import Channel, Matter, OnlineDepth, ServiceMode


def check(matter: Matter) -> list[QualityError]:
    """Every rule the guide breaks (empty when it is consistent)."""
    problems: list[QualityError] = []

    def broken(rule: str, field: str, message: str) -> None:
        problems.append(QualityError(rule, field, message))

    if matter.online_depth is OnlineDepth.LEVEL_4 and matter.visits != 0:
        broken("FULLY_ONLINE_NEEDS_ZERO_VISITS", "visits", "全程网办（Ⅳ级）事项到现场次数须为0")
    if matter.visits == 0 and not matter.online_capable and Channel.MAIL not in matter.channels:
        broken("ZERO_VISITS_OFFLINE_NEEDS_MAIL", "channels", "零跑动且不可网办的事项须支持邮寄")
    if matter.charged and not matter.fees:
        broken("CHARGED_NEEDS_FEES", "fees", "收费事项须列明收费项目、标准和依据")
    if not matter.charged and matter.fees:
        broken("FREE_WITH_FEES", "fees", "不收费事项不应列出收费项目")
    if matter.consultation_phone == matter.complaint_phone:
        broken("PHONES_MUST_DIFFER", "complaintPhone", "咨询电话与投诉电话须不同")
    if matter.committed_days > matter.statutory_days:
        broken("COMMITTED_EXCEEDS_STATUTORY", "committedDays", "承诺时限不得超过法定时限")
    modes = set(matter.service_modes)
    if ServiceMode.FULLY_ONLINE in modes and matter.online_depth is not OnlineDepth.LEVEL_4:
        broken("FULLY_ONLINE_NEEDS_DEPTH_IV", "onlineDepth", "全程网办事项网办深度须为Ⅳ级")
    if ServiceMode.INSTANT_APPROVAL in modes and matter.committed_days != 0:
        broken("INSTANT_APPROVAL_NEEDS_ZERO_DAYS", "committedDays", "秒批事项承诺时限须为0")
    if [s.order for s in matter.steps] != list(range(1, len(matter.steps) + 1)):
        broken("STEPS_OUT_OF_ORDER", "steps", "办理环节须从1开始连续编号")
    codes = [s.code for s in matter.situations]
    if len(codes) != len(set(codes)):
        broken("DUPLICATE_SITUATION", "situations", "办事情形编码重复")
    for i, situation in enumerate(matter.situations):
        for j, material in enumerate(situation.materials):
            if material.deferrable and material.core:
                broken(
                    "DEFERRABLE_CORE_MATERIAL",
                    f"situations.{i}.materials.{j}",
                    f"核心材料「{material.name}」不可容缺",
                )
    return problems


def parse(content: Any) -> tuple[Matter | None, list[QualityError]]:
    """Validate raw guide content (English or exchange-format keys): the matter, or why not."""
    if not isinstance(content, dict):
        return None, [QualityError("NOT_AN_OBJECT", None, "事项须为对象 (must be an object)")]
    try:
        matter = Matter.model_validate(content)
    except ValidationError as exc:
        return None, [
            QualityError(
                "MISSING_FIELD" if err["type"] == "missing" else "INVALID_FIELD",
                ".".join(str(p) for p in err["loc"]) or None,
                f"{err['msg']}",
            )
            for err in exc.errors()
        ]
    problems = check(matter)
    return (None if problems else matter), problems
