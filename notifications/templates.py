"""Message templates with `((name))` placeholders (the GOV.UK Notify convention).

A template is checked when it is defined: every placeholder in its text must be declared and
every declared field must be used, so a typo fails at import, not in a citizen's inbox. At send
time every field must be given a non-empty value: missing data is an error, never a blank.
Push payloads carry no personal data beyond what the template author chose to put in them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from notifications.errors import MissingDataError, TemplateError, UnknownTemplateError
from notifications.models import Category

_PLACEHOLDER = re.compile(r"\(\(([^()]*)\)\)")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_VALUE_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str
    deep_link: str | None
    category: Category


@dataclass(frozen=True, slots=True)
class Template:
    code: str
    category: Category
    title: str
    body: str
    fields: frozenset[str]
    deep_link: str | None = None  # may hold placeholders too, e.g. zsb://applications/((id))
    version: int = 1

    def __post_init__(self) -> None:
        used = set()
        for text in (self.title, self.body, self.deep_link or ""):
            for name in _PLACEHOLDER.findall(text):
                if not _NAME.match(name):
                    raise TemplateError(
                        f"模板 {self.code}: 非法占位符 (({name}))", field="template"
                    )
                used.add(name)
        unknown = used - self.fields
        if unknown:
            raise TemplateError(
                f"模板 {self.code}: 未声明的占位符 {sorted(unknown)} (unknown placeholders)",
                field="template",
            )
        unused = self.fields - used
        if unused:
            raise TemplateError(
                f"模板 {self.code}: 声明但未使用的字段 {sorted(unused)} (unused fields)",
                field="template",
            )

    def render(self, data: Mapping[str, object]) -> Rendered:
        values: dict[str, str] = {}
        missing = []
        for name in self.fields:
            value = data.get(name)
            text = "" if value is None else str(value).strip()
            if not text:
                missing.append(name)
            values[name] = text[:MAX_VALUE_LENGTH]
        if missing:
            raise MissingDataError(missing)

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

        return Rendered(
            title=fill(self.title),
            body=fill(self.body),
            deep_link=fill(self.deep_link) if self.deep_link else None,
            category=self.category,
        )


def _t(
    code: str, category: Category, title: str, body: str, deep_link: str | None, *fields: str
) -> Template:
    return Template(code, category, title, body, frozenset(fields), deep_link)


# The transactional templates the other domains send through `service.notify`.
TEMPLATES: dict[str, Template] = {
    t.code: t
    for t in (
        _t(
            "APPLICATION_STATUS_CHANGED",
            Category.APPLICATION_STATUS,
            "您的办件有新进展",
            "您申请的「((matter_name))」(受理编号 ((receipt_number))) 状态已更新为: ((status))。",
            "zsb://applications/((application_id))",
            "matter_name",
            "receipt_number",
            "status",
            "application_id",
        ),
        _t(
            "SUPPLEMENT_DEADLINE",
            Category.APPLICATION_STATUS,
            "请补正申请材料",
            "您申请的「((matter_name))」需要补正材料，请于 ((deadline)) 前提交。",
            "zsb://applications/((application_id))",
            "matter_name",
            "deadline",
            "application_id",
        ),
        _t(
            "AGENT_ACTED",
            Category.APPLICATION_STATUS,
            "您的代办人为您办理了事项",
            "您授权的代办人（((agent_phone))）已为您「((matter_name))」((act))。"
            "如有疑问，可在“我的授权”中撤销授权。",
            "zsb://((target))",
            "agent_phone",
            "matter_name",
            "act",
            "target",
        ),
        _t(
            "AGENCY_REVOKED",
            Category.APPLICATION_STATUS,
            "代办授权已撤销",
            "委托人（((principal_name))）已撤销对您的代办授权，您不能再以其名义办理事项。",
            "zsb://agency",
            "principal_name",
        ),
        _t(
            "RESULT_ISSUED",
            Category.APPLICATION_STATUS,
            "电子证照已发放",
            "您申请的「((matter_name))」已办结，「((licence_name))」电子证照已放入您的卡包。",
            "zsb://applications/((application_id))",
            "matter_name",
            "licence_name",
            "application_id",
        ),
        _t(
            "RESULT_SHIPPED",
            Category.APPLICATION_STATUS,
            "办理结果已寄出",
            "您申请的「((matter_name))」的办理结果已由((carrier))寄出，运单号 ((tracking_number))，"
            "请注意查收。",
            "zsb://applications/((application_id))",
            "matter_name",
            "carrier",
            "tracking_number",
            "application_id",
        ),
        _t(
            "FEEDBACK_REPLIED",
            Category.APPLICATION_STATUS,
            "您的反映已办结",
            "您反映的问题（((kind))）已由「((department))」办结并答复：((reply))",
            "zsb://feedback/((ticket_id))",
            "kind",
            "department",
            "reply",
            "ticket_id",
        ),
        _t(
            "LICENCE_CHECKED",
            Category.LICENCE,
            "您的证照被查验",
            "您的「((licence_name))」于 ((checked_at)) 被「((verifier))」查验。",
            "zsb://licences/((licence_id))",
            "licence_name",
            "checked_at",
            "verifier",
            "licence_id",
        ),
        _t(
            "LICENCE_CHECK_REFUSED",
            Category.LICENCE,
            "证照查验异常提醒",
            "您的「((licence_name))」于 ((checked_at)) 有一次未通过的查验 (((reason)))，"
            "如非本人操作请及时处理。",
            "zsb://licences/((licence_id))",
            "licence_name",
            "checked_at",
            "reason",
            "licence_id",
        ),
        _t(
            "LICENCE_EXPIRING",
            Category.REMINDER,
            "证照即将到期",
            "您的「((licence_name))」将于 ((valid_until)) 到期，请及时办理延续。",
            "zsb://licences/((licence_id))",
            "licence_name",
            "valid_until",
            "licence_id",
        ),
    )
}


def get_template(code: str) -> Template:
    template = TEMPLATES.get(code)
    if template is None:
        raise UnknownTemplateError(code)
    return template
