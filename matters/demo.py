"""The demo catalogue: `matters.demo_templates` expanded with a fixed seed.

`generate()` gives the demo (about 400 matters); `generate(size=10_000)` pads it with synthetic
matters for benchmarks. Every generated guide passes the data-quality rules (checked here, so a
template edit that breaks one fails loudly instead of seeding a contradictory guide).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from matters import rules
from matters.demo_templates import (
    BUNDLES,
    CENTRES,
    CITY_DEPARTMENTS,
    DISTRICTS,
    LIFE_EVENTS,
    REGIONS,
    SYNTHETIC_ACTIONS,
    SYNTHETIC_OBJECTS,
    TEMPLATES,
)
from matters.models import Audience, Bundle, Department, Matter, MatterType, ServicePoint

SEED = 20260601
CITY = "370200"
_TYPE_CODES = {t.value: f"{i + 1:02d}" for i, t in enumerate(MatterType)}
# 结果送达方式 of a matter with a named result unless its template says otherwise: electronic,
# posted free of charge (快递办, requirements B17) or collected at the hall.
_DELIVERY = ["电子送达", "邮寄送达", "窗口领取"]
_POINT_KINDS = [
    "政务服务中心",
    "市民服务中心分中心",
    "东部便民服务站",
    "西部便民服务站",
    "社区综合服务站",
]


@dataclass(frozen=True, slots=True)
class Catalogue:
    matters: list[Matter]
    departments: list[Department]
    bundles: list[Bundle]
    service_points: list[ServicePoint]


def departments() -> dict[str, Department]:
    found = {}
    for key, (suffix, name) in CITY_DEPARTMENTS.items():
        found[key] = Department(
            code=f"{CITY}-{suffix}", name=name, region_code=CITY, phone="0532-12345000"
        )
    for region in DISTRICTS:
        found[region] = Department(
            code=f"{region}-XZSPJ",
            name=f"青岛市{REGIONS[region]}行政审批服务局",
            region_code=region,
            phone=f"0532-8{region[-3:]}0000",
        )
    return found


def service_points(rng: random.Random) -> list[ServicePoint]:
    points = []
    for region, (lon, lat) in CENTRES.items():
        for k, kind in enumerate(_POINT_KINDS):
            points.append(
                ServicePoint(
                    code=f"SP{region}{k:02d}",
                    name=f"{REGIONS[region]}{kind}",
                    region_code=region,
                    address=f"{REGIONS[region]}政务服务路{rng.randint(1, 300)}号",
                    phone=f"0532-8{rng.randint(1000000, 9999999)}",
                    office_hours="工作日 9:00-17:00，周六上午 9:00-12:00",
                    longitude=round(lon + rng.uniform(-0.03, 0.03), 6),
                    latitude=round(lat + rng.uniform(-0.03, 0.03), 6),
                )
            )
    return points


def _material(name: str, tmpl: dict[str, Any], code: str, j: int) -> dict[str, Any]:
    deferrable = name in tmpl.get("deferrable", [])
    is_form = name.endswith(("申请书", "申请表", "表"))
    return {
        "name": name,
        "form": "原件" if is_form else "原件和复印件",
        "copies": 1,
        "required": True,
        "core": not deferrable,
        "deferrable": deferrable,
        "replaceable_by_commitment": name in tmpl.get("commitment", []),
        "licence_type_code": tmpl.get("licence", {}).get(name),
        "source": "申请人自备" if is_form else "政府部门核发",
        "sample_url": f"https://qd.zwfw.example/samples/{code}-{j}.pdf" if is_form else None,
        "blank_form_url": f"https://qd.zwfw.example/forms/{code}-{j}.docx" if is_form else None,
    }


def _steps(tmpl: dict[str, Any]) -> list[dict[str, Any]]:
    if "秒批" in tmpl.get("modes", []):
        names = ["网上申请", "系统自动审批", "电子证照送达"]
    elif tmpl.get("visits", 1) == 0:
        names = ["网上申请", "受理", "审查", "决定", "结果送达"]
    else:
        names = ["申请", "窗口受理", "审查", "决定", "领取结果"]
    statutory = tmpl["days"][0]
    return [
        {
            "order": i + 1,
            "name": step,
            "handler": "系统" if "系统" in step else "窗口工作人员",
            "time_limit_days": statutory if step in ("审查", "系统自动审批") else 0,
            "standard": "材料齐全、符合法定形式" if "受理" in step else None,
            "result": "受理通知书" if "受理" in step else None,
        }
        for i, step in enumerate(names)
    ]


def build_matter(
    tmpl: dict[str, Any], region: str, n: int, dept: Department, points: list[str], pop: int
) -> Matter:
    code = f"{region}{_TYPE_CODES[tmpl['type']]}{n:05d}"
    materials = [_material(m, tmpl, code, j) for j, m in enumerate(tmpl["materials"])]
    situations = [{"code": "01", "name": "本人申请", "materials": materials}]
    if len(materials) >= 2:
        agent = [
            *materials,
            _material("授权委托书", {}, code, 90),
            _material("代理人身份证明", {}, code, 91),
        ]
        situations.append({"code": "02", "name": "委托他人代为办理", "materials": agent})
    charged = bool(tmpl.get("charged"))
    statutory, committed = tmpl["days"]
    matter = Matter.model_validate(
        {
            "code": code,
            "name": tmpl["name"],
            "type": tmpl["type"],
            "department_code": dept.code,
            "department_name": dept.name,
            "region_code": region,
            "audiences": tmpl["aud"],
            "aliases": tmpl.get("aliases", []),
            "keywords": tmpl.get("keywords", []),
            "life_events": tmpl.get("events", []),
            "conditions": [f"申请人符合{tmpl['name']}的法定条件", "申请材料齐全、符合法定形式"],
            "situations": situations,
            "legal_basis": [
                {
                    "name": "《中华人民共和国行政许可法》"
                    if tmpl["type"] == "行政许可"
                    else "《山东省政务服务管理办法》",
                    "document_number": None,
                    "article": f"第{(n % 30) + 1}条",
                    "content": f"办理{tmpl['name']}应当依法公开条件、程序和期限。",
                }
            ],
            "steps": _steps(tmpl),
            "statutory_days": statutory,
            "committed_days": committed,
            "charged": charged,
            "fees": [
                {
                    "name": "证件工本费",
                    "standard": "按国家规定标准收取",
                    "basis": "国家发展改革委、财政部有关收费文件",
                    "reducible": False,
                }
            ]
            if charged
            else [],
            "online_payment": charged,
            "visits": tmpl.get("visits", 1),
            "online_depth": tmpl.get("depth", "Ⅲ级"),
            "service_modes": tmpl.get("modes", []),
            "tongban_scope": tmpl.get("tongban", "无"),
            "channels": ["APP", "网站", "小程序", "大厅"],
            "service_point_codes": points,
            "result_name": tmpl.get("result"),
            "result_delivery": tmpl.get(
                "delivery", _DELIVERY if tmpl.get("result") else ["电子送达"]
            ),
            "faq": [
                {
                    "question": f"{tmpl['name']}可以在手机上办吗？",
                    "answer": "可以通过爱山东APP办理。",
                },
                {"question": "办理需要多长时间？", "answer": f"承诺{committed}个工作日内办结。"},
            ],
            "consultation_phone": f"0532-8{n % 10_000_000:07d}",
            "complaint_phone": "12345",
            "popularity": pop,
        }
    )
    problems = rules.check(matter)
    if problems:
        raise ValueError(f"demo template {tmpl['name']} breaks {[p.rule for p in problems]}")
    return matter


def _synthetic(rng: random.Random, i: int) -> dict[str, Any]:
    obj = SYNTHETIC_OBJECTS[i % len(SYNTHETIC_OBJECTS)]
    action = SYNTHETIC_ACTIONS[(i // len(SYNTHETIC_OBJECTS)) % len(SYNTHETIC_ACTIONS)]
    online = rng.random() < 0.6
    return {
        "name": f"{obj}{action}",
        "type": "行政备案" if action == "备案" else "行政许可",
        "aud": ["法人"],
        "keywords": [obj],
        "modes": ["全程网办"] if online else ["承诺办"],
        "depth": "Ⅳ级" if online else "Ⅲ级",
        "visits": 0 if online else 1,
        "days": (20, rng.randint(1, 20)),
        "materials": [f"{obj}{action}申请表", "营业执照", "法定代表人身份证明"],
    }


def generate(size: int | None = None, seed: int = SEED) -> Catalogue:
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    depts = departments()
    points = service_points(rng)
    by_region: dict[str, list[str]] = {}
    for p in points:
        by_region.setdefault(p.region_code, []).append(p.code)
    matters: list[Matter] = []
    n = 0
    for rank, tmpl in enumerate(TEMPLATES):
        regions = DISTRICTS if tmpl["level"] == "district" else [CITY]
        for region in regions:
            n += 1
            dept = depts[tmpl["dept"]] if region == CITY else depts[region]
            # Earlier templates are the high-volume ones (the list is ordered by demand).
            pop = max(1, int(rng.paretovariate(1.2) * (60_000 // (rank + 3))))
            matters.append(build_matter(tmpl, region, n, dept, by_region[region][:2], pop))
    i = 0
    while size is not None and len(matters) < size:
        region = [CITY, *DISTRICTS][i % (len(DISTRICTS) + 1)]
        tmpl = _synthetic(rng, i // (len(DISTRICTS) + 1))
        dept = depts["spj"] if region == CITY else depts[region]
        n += 1
        i += 1
        matters.append(
            build_matter(tmpl, region, n, dept, by_region[region][:1], rng.randint(0, 500))
        )
    bundles = [_bundle(b, matters) for b in BUNDLES]
    return Catalogue(matters, list(depts.values()), bundles, points)


def _bundle(spec: tuple[str, str, str, str, list[str]], matters: list[Matter]) -> Bundle:
    code, name, audience, event, members = spec
    codes = []
    for member in members:
        # City-level matter if there is one, else the 市南区 implementation.
        candidates = [m for m in matters if m.name == member]
        chosen = next((m for m in candidates if m.region_code in (CITY, "370202")), candidates[0])
        codes.append(chosen.code)
    return Bundle(
        code=code,
        name=name,
        audience=Audience(audience),
        life_event=event,
        description=f"{name}：{'、'.join(members)}一次申请、一套材料、一次办好。",
        matter_codes=codes,
    )


def life_events() -> list[tuple[str, str, str]]:
    return list(LIFE_EVENTS)
