"""Application forms: a JSON Schema per matter and situation, and the server's check of it.

A form is a restricted JSON Schema (object of string / integer / boolean properties, `enum`,
`minLength` / `maxLength`, `minimum` / `maximum`, `required`, and `allOf` of `if {const} / then
{required}` for conditional sections) with display hints: `title` (the Chinese label),
`x-order` (display order) and `x-format` (`id-number`, `phone`, `uscc`, `date`). The restriction
is deliberate: every keyword a form uses is one this module validates, so the client's view of a
form and the server's check never disagree.

Where a form comes from: the catalogue entry's own `form_schema` if an operator set one, else an
explicit definition for the named matters below, else a default derived from the audience.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from stdnum.cn import uscc
from stdnum.exceptions import ValidationError

from app.errors import DomainError
from auth.errors import InvalidIdNumberError, InvalidPhoneError
from auth.identity_numbers import normalize_id_number, normalize_phone
from matters.models import Audience, Matter

FormData = dict[str, Any]
Schema = dict[str, Any]

MAX_FIELDS = 60
MAX_TEXT = 2000
AGENT_SITUATION = "委托他人代为办理"


def _text(title: str, order: int, *, max_len: int = 100, fmt: str | None = None) -> Schema:
    prop: Schema = {"type": "string", "title": title, "x-order": order, "maxLength": max_len}
    if fmt:
        prop["x-format"] = fmt
    else:
        prop["minLength"] = 1
    return prop


_PERSON: Schema = {
    "applicantName": _text("申请人姓名", 10, max_len=50),
    "idNumber": _text("公民身份号码", 20, max_len=18, fmt="id-number"),
    "phone": _text("联系电话", 30, max_len=20, fmt="phone"),
    "address": _text("通讯地址", 40, max_len=200),
}
_ORGANIZATION: Schema = {
    "organizationName": _text("单位名称", 10, max_len=100),
    "uscc": _text("统一社会信用代码", 20, max_len=18, fmt="uscc"),
    "legalRepresentative": _text("法定代表人", 30, max_len=50),
    "phone": _text("联系电话", 40, max_len=20, fmt="phone"),
    "address": _text("单位地址", 50, max_len=200),
}
_AGENT: Schema = {
    "agentName": _text("代理人姓名", 100, max_len=50),
    "agentIdNumber": _text("代理人公民身份号码", 110, max_len=18, fmt="id-number"),
    "agentPhone": _text("代理人联系电话", 120, max_len=20, fmt="phone"),
}

# Explicit forms of the demo's named matters (by catalogue name: codes differ per district).
_EXPLICIT: dict[str, tuple[Schema, list[str]]] = {
    "老年人优待证办理": (
        {
            **{k: _PERSON[k] for k in ("applicantName", "idNumber", "phone")},
            "address": _text("居住地址", 40, max_len=200),
            "emergencyContact": _text("紧急联系人", 50, max_len=50),
            "emergencyPhone": _text("紧急联系人电话", 60, max_len=20, fmt="phone"),
        },
        ["applicantName", "idNumber", "phone", "address"],
    ),
    "企业设立登记": (
        {
            "companyName": _text("企业名称", 10, max_len=100),
            "companyType": {
                "type": "string",
                "title": "企业类型",
                "x-order": 20,
                "enum": ["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"],
            },
            "registeredCapital": {
                "type": "integer",
                "title": "注册资本（万元）",
                "x-order": 30,
                "minimum": 1,
                "maximum": 100_000_000,
            },
            "businessScope": _text("经营范围", 40, max_len=2000),
            "address": _text("住所", 50, max_len=200),
            "legalRepresentative": _text("法定代表人姓名", 60, max_len=50),
            "idNumber": _text("法定代表人公民身份号码", 70, max_len=18, fmt="id-number"),
            "phone": _text("联系电话", 80, max_len=20, fmt="phone"),
            "plannedOpeningDate": _text("拟开业日期", 90, max_len=10, fmt="date"),
        },
        [
            "companyName",
            "companyType",
            "registeredCapital",
            "businessScope",
            "address",
            "legalRepresentative",
            "idNumber",
            "phone",
        ],
    ),
    "个体工商户设立登记": (
        {
            "businessName": _text("个体工商户名称", 10, max_len=100),
            "operatorName": _text("经营者姓名", 20, max_len=50),
            "idNumber": _text("经营者公民身份号码", 30, max_len=18, fmt="id-number"),
            "phone": _text("联系电话", 40, max_len=20, fmt="phone"),
            "businessScope": _text("经营范围", 50, max_len=2000),
            "address": _text("经营场所", 60, max_len=200),
        },
        ["businessName", "operatorName", "idNumber", "phone", "businessScope", "address"],
    ),
}


def _default(matter: Matter) -> Schema:
    audiences = set(matter.audiences)
    if audiences == {Audience.ORGANIZATION}:
        return _schema(_ORGANIZATION, ["organizationName", "uscc", "legalRepresentative", "phone"])
    if Audience.ORGANIZATION not in audiences:
        return _schema(_PERSON, ["applicantName", "idNumber", "phone"])
    # Both: one section per applicant type, chosen by `applicantType` (a conditional section).
    props: Schema = {
        "applicantType": {
            "type": "string",
            "title": "申请人类型",
            "x-order": 1,
            "enum": [Audience.PERSON.value, Audience.ORGANIZATION.value],
        },
        **{k: {**v, "x-order": v["x-order"] + 100} for k, v in _ORGANIZATION.items()},
        **_PERSON,
    }
    schema = _schema(props, ["applicantType", "phone"])
    schema["allOf"] = [
        {
            "if": {"properties": {"applicantType": {"const": Audience.PERSON.value}}},
            "then": {"required": ["applicantName", "idNumber"]},
        },
        {
            "if": {"properties": {"applicantType": {"const": Audience.ORGANIZATION.value}}},
            "then": {"required": ["organizationName", "uscc", "legalRepresentative"]},
        },
    ]
    return schema


def _schema(properties: Schema, required: list[str]) -> Schema:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": copy.deepcopy(properties),
        "required": list(required),
        "additionalProperties": False,
    }


def form_schema(matter: Matter, situation: str | None = None) -> Schema:
    """The form of `matter` in `situation` (its code or name; None: the first situation)."""
    if matter.form_schema:
        schema = copy.deepcopy(matter.form_schema)
    elif matter.name in _EXPLICIT:
        schema = _schema(*_EXPLICIT[matter.name])
    else:
        schema = _default(matter)
    chosen = next(
        (s for s in matter.situations if situation in (s.code, s.name)), matter.situations[0]
    )
    if chosen.name == AGENT_SITUATION and schema.get("type") == "object":
        schema.setdefault("properties", {}).update(copy.deepcopy(_AGENT))
        schema["required"] = [*schema.get("required", []), *_AGENT]
    schema["title"] = f"{matter.name}（{chosen.name}）"
    # The situations to choose from (submitted beside the form, not inside it).
    schema["x-situations"] = [{"code": s.code, "name": s.name} for s in matter.situations]
    schema["x-situation"] = chosen.code
    return schema


# -- validation -------------------------------------------------------------------------------


def _error(key: str, code: str, message: str) -> DomainError:
    return DomainError(message, code=code, field=f"form.{key}")


def _check_format(key: str, label: str, fmt: str, value: str) -> tuple[str, DomainError | None]:
    field = f"form.{key}"
    try:
        if fmt == "id-number":
            return normalize_id_number(value, field=field), None
        if fmt == "phone":
            return normalize_phone(value, field=field), None
        if fmt == "uscc":
            return str(uscc.validate(value)), None
        if fmt == "date":
            return date.fromisoformat(value).isoformat(), None
    except (InvalidIdNumberError, InvalidPhoneError) as exc:
        return value, DomainError(f"{label}：{exc.message}", code=exc.code, field=field)
    except ValidationError:
        return value, _error(key, "INVALID_USCC", f"{label}不是有效的统一社会信用代码")
    except ValueError:
        return value, _error(key, "INVALID_DATE", f"{label}应为 YYYY-MM-DD 格式的有效日期")
    return value, None


def _check_value(key: str, prop: Schema, value: Any) -> tuple[Any, DomainError | None]:
    label = str(prop.get("title", key))
    kind = prop.get("type", "string")
    if kind == "string":
        if not isinstance(value, str):
            return value, _error(key, "INVALID_TYPE", f"{label}应为文本")
        value = value.strip()
        if len(value) > min(int(prop.get("maxLength", MAX_TEXT)), MAX_TEXT):
            return value, _error(key, "TOO_LONG", f"{label}不能超过{prop.get('maxLength')}个字")
        if len(value) < int(prop.get("minLength", 0)):
            return value, _error(key, "REQUIRED", f"请填写{label}")
    elif kind == "integer":
        # bool is an int in Python, but not in a form.
        if not isinstance(value, int) or isinstance(value, bool):
            return value, _error(key, "INVALID_TYPE", f"{label}应为整数")
        low, high = prop.get("minimum"), prop.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return value, _error(key, "OUT_OF_RANGE", f"{label}应在{low}到{high}之间")
    elif kind == "boolean" and not isinstance(value, bool):
        return value, _error(key, "INVALID_TYPE", f"{label}应为是或否")
    if "enum" in prop and value not in prop["enum"]:
        return value, _error(
            key, "NOT_IN_ENUM", f"{label}应为：{'、'.join(map(str, prop['enum']))}"
        )
    fmt = prop.get("x-format")
    if fmt and isinstance(value, str):
        return _check_format(key, label, str(fmt), value)
    return value, None


def validate(schema: Schema, data: Any) -> tuple[FormData, list[DomainError]]:
    """The cleaned form (trimmed, normalised numbers) and one error per failing field."""
    if not isinstance(data, dict):
        return {}, [DomainError("表单应为对象 (form must be an object)", field="form")]
    if len(data) > MAX_FIELDS:
        return {}, [DomainError("表单字段过多 (too many fields)", code="TOO_LONG", field="form")]
    props: Schema = schema.get("properties", {})
    required = list(schema.get("required", []))
    for rule in schema.get("allOf", []):
        condition = rule.get("if", {}).get("properties", {})
        if all(data.get(k) == c.get("const") for k, c in condition.items()):
            required += rule.get("then", {}).get("required", [])
    cleaned: FormData = {}
    errors: list[DomainError] = []
    for key, value in data.items():
        if key not in props:
            if schema.get("additionalProperties", True) is False:
                errors.append(_error(str(key)[:60], "UNKNOWN_FIELD", f"表单没有“{key}”这一项"))
            continue
        if value is None or value == "":
            continue  # empty is "not given": the required check below reports it
        value, problem = _check_value(key, props[key], value)
        if problem:
            errors.append(problem)
        else:
            cleaned[key] = value
    for key in dict.fromkeys(required):
        if key not in cleaned and not any(e.field == f"form.{key}" for e in errors):
            label = props.get(key, {}).get("title", key)
            errors.append(_error(key, "REQUIRED", f"请填写{label}"))
    return cleaned, errors
