"""The importer takes the exchange format, reports each rejected row with its rule, and never
imports part of a matter."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import AliasChoices

from matters.models import Matter
from tests.factories import Api
from tests.matters.test_operators import READ, new_guide

IMPORT = """
mutation I($format: ImportFormat!, $content: String!, $publish: Boolean) {
  importMatters(input: {format: $format, content: $content, publish: $publish}) {
    imported rejected { row code rule field message } userErrors { field code message } } }"""


def in_chinese(guide: dict[str, Any]) -> dict[str, Any]:
    """The guide with its top-level keys as the exchange format names them (事项名称 …)."""
    names: dict[str, str] = {}
    for name, info in Matter.model_fields.items():
        alias = info.validation_alias
        assert isinstance(alias, AliasChoices)
        chinese = alias.choices[1]
        assert isinstance(chinese, str)
        names[name] = chinese
    return {names[k]: v for k, v in guide.items()}


async def test_json_import_takes_good_matters_and_reports_bad_ones(
    api: Api, operator_token: str
) -> None:
    good = in_chinese(new_guide(code="370202IMP0001", name="渔船登记"))
    assert "事项名称" in good
    bad = in_chinese(new_guide(code="370202IMP0002", consultation_phone="12345"))
    worse = new_guide(code="370202IMP0003", visits=2, charged=True)
    content = json.dumps({"事项": [good, bad, worse]}, ensure_ascii=False)
    payload = (await api.data(IMPORT, {"format": "JSON", "content": content}, operator_token))[
        "importMatters"
    ]
    assert payload["userErrors"] == []
    assert payload["imported"] == ["370202IMP0001"]
    rejected = {(r["row"], r["code"], r["rule"]) for r in payload["rejected"]}
    assert rejected == {
        (2, "370202IMP0002", "PHONES_MUST_DIFFER"),
        (3, "370202IMP0003", "FULLY_ONLINE_NEEDS_ZERO_VISITS"),
        (3, "370202IMP0003", "CHARGED_NEEDS_FEES"),
    }
    assert (await api.data(READ, {"code": "370202IMP0001"}))["matter"]["name"] == "渔船登记"
    for code in ("370202IMP0002", "370202IMP0003"):
        assert (await api.data(READ, {"code": code}))["matter"] is None


HEADER = [
    "基本编码", "事项名称", "事项类型", "实施主体编码", "实施主体", "行政区划代码", "服务对象",
    "受理条件", "设定依据", "办理流程", "法定办结时限", "承诺办结时限", "是否收费",
    "到办事现场次数", "网上办理深度", "服务方式", "办理形式", "咨询电话", "监督投诉电话",
    "情形编码", "情形名称", "材料名称", "材料类型", "可容缺",
]  # fmt: skip


def csv_row(code: str, material: str, form: str = "原件", **changes: str) -> list[str]:
    row = {
        "基本编码": code, "事项名称": "船舶检验申请", "事项类型": "行政许可",
        "实施主体编码": "370202-XZSPJ", "实施主体": "青岛市市南区行政审批服务局",
        "行政区划代码": "370202", "服务对象": "个人、法人", "受理条件": "船舶所有人申请",
        "设定依据": "《中华人民共和国船舶和海上设施检验条例》", "办理流程": "申请→受理→审查→决定",
        "法定办结时限": "20", "承诺办结时限": "5", "是否收费": "否", "到办事现场次数": "1",
        "网上办理深度": "Ⅲ级", "服务方式": "承诺办", "办理形式": "大厅、APP",
        "咨询电话": "0532-88880000", "监督投诉电话": "12345", "情形编码": "01",
        "情形名称": "本人申请", "材料名称": material, "材料类型": form, "可容缺": "否",
    }  # fmt: skip
    row.update(changes)
    return [row[h] for h in HEADER]


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


async def test_csv_rejects_a_whole_matter_for_one_bad_row(api: Api, operator_token: str) -> None:
    content = to_csv(
        [
            csv_row("370202CSV0001", "船舶检验申请书"),
            csv_row("370202CSV0001", "船舶所有权证书"),
            csv_row("370202CSV0002", "船舶检验申请书"),
            csv_row("370202CSV0002", "船舶所有权证书", form="传真件"),  # not a material form
            csv_row("370202CSV0002", "身份证明"),
            csv_row("370202CSV0003", "申请书", 咨询电话="12345"),
        ]
    )
    payload = (await api.data(IMPORT, {"format": "CSV", "content": content}, operator_token))[
        "importMatters"
    ]
    assert payload["imported"] == ["370202CSV0001"]
    rejected = [(r["row"], r["code"], r["rule"]) for r in payload["rejected"]]
    assert rejected == [
        (3, "370202CSV0002", "MATTER_REJECTED"),
        (4, "370202CSV0002", "INVALID_FIELD"),
        (5, "370202CSV0002", "MATTER_REJECTED"),
        (6, "370202CSV0003", "PHONES_MUST_DIFFER"),
    ]
    assert payload["rejected"][1]["field"] == "situations.0.materials.1.form"
    guide = await api.data(
        "query($c: String!) { matter(code: $c) { name materials { name } visits } }",
        {"c": "370202CSV0001"},
    )
    assert [m["name"] for m in guide["matter"]["materials"]] == ["船舶检验申请书", "船舶所有权证书"]
    for code in ("370202CSV0002", "370202CSV0003"):
        assert (await api.data(READ, {"code": code}))["matter"] is None


async def test_unreadable_files_are_user_errors(api: Api, operator_token: str) -> None:
    for fmt, content in (("JSON", "{not json"), ("JSON", '"a string"'), ("CSV", "a,b\n1,2\n")):
        payload = (await api.data(IMPORT, {"format": fmt, "content": content}, operator_token))[
            "importMatters"
        ]
        assert [e["code"] for e in payload["userErrors"]] == ["INVALID_IMPORT"], payload
        assert payload["imported"] == []
