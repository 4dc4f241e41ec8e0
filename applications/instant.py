"""秒批: declarative approval rules per matter, checked against the form and shared data.

A rule is data (kind + parameter + the reason shown when it fails), so operators can read the
table and a test can enumerate it. Shared data comes from the applicant's verified identity (not
from the form: a form is what the applicant claims, the identity is what the state knows).
When every rule passes the application is approved within the request; when any fails it goes
to a clerk with the failed reasons on its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from auth.identity_numbers import birth_date_of


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules may look at."""

    form: dict[str, Any]
    id_number: str | None  # the applicant's verified identity number (shared data)
    region_code: str | None
    today: date


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # age_at_least | form_matches_identity | resident_of
    param: Any
    reason: str


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _passes(rule: Rule, facts: Facts) -> bool:
    if rule.kind == "form_matches_identity":
        return facts.id_number is not None and facts.form.get(rule.param) == facts.id_number
    if rule.kind == "age_at_least":
        if facts.id_number is None:
            return False
        return age_on(birth_date_of(facts.id_number), facts.today) >= int(rule.param)
    if rule.kind == "resident_of":
        return bool(facts.region_code and facts.region_code.startswith(str(rule.param)))
    raise ValueError(f"unknown 秒批 rule kind {rule.kind!r}")


_IDENTITY = Rule("form_matches_identity", "idNumber", "表单身份证号与实名认证身份不一致")

# By catalogue name: each district implements the same matter under its own code.
RULES: dict[str, tuple[Rule, ...]] = {
    "老年人优待证办理": (
        _IDENTITY,
        Rule("age_at_least", 60, "申请人未满60周岁"),
        Rule("resident_of", "3702", "申请人户籍不在青岛市"),
    ),
}


def rules_for(matter_name: str) -> tuple[Rule, ...]:
    return RULES.get(matter_name, ())


def evaluate(matter_name: str, facts: Facts) -> list[str]:
    """The reasons it cannot be approved automatically; empty means approve now."""
    rules = rules_for(matter_name)
    if not rules:
        return ["该事项未配置秒批规则，转人工审核"]
    return [r.reason for r in rules if not _passes(r, facts)]
