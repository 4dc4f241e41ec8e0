"""The licence-type registry and the verification scenes (用证场景) with what each may see.

Config as code: adding a type is one entry here, no other change. `code` is the stable code the
API shows; `token_code` is the two-character code carried in SDL1 tokens (claim `lt`: with a
longer one the online token no longer fits a version 8 QR at level M, spec §3); `national_code`
is the 证照类型代码 of the national catalogue (GB/T 36902), kept for the shared-exchange platform.
Token codes are never reused or renumbered: tokens and offline verifiers depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Field names a scene may disclose (the GraphQL `VerifiedLicence` fields).
HOLDER_NAME = "holderName"
NUMBER = "number"
ID_NUMBER = "idNumber"
VALID_FROM = "validFrom"
VALID_UNTIL = "validUntil"
ISSUER = "issuer"
STATUS = "status"
ALL_FIELDS = (HOLDER_NAME, NUMBER, ID_NUMBER, VALID_FROM, VALID_UNTIL, ISSUER, STATUS)


@dataclass(frozen=True, slots=True)
class LicenceType:
    token_code: str  # two characters, the SDL1 claim `lt`: a longer code breaks the QR budget
    code: str
    national_code: str
    name: str
    authority: str  # the issuing authority (发证机关) by role
    sensitive: bool = False  # showing it needs assurance L3 (face verified)
    legal_person: bool = False  # held by an enterprise or 个体工商户, not a natural person
    masked_fields: tuple[str, ...] = (HOLDER_NAME, NUMBER, ID_NUMBER)


def _t(
    token_code: str,
    code: str,
    national: str,
    name: str,
    authority: str,
    *,
    sensitive: bool = False,
    legal: bool = False,
) -> LicenceType:
    # Enterprise names on a legal-person licence are public record: only numbers are masked.
    masked = (NUMBER, ID_NUMBER) if legal else (HOLDER_NAME, NUMBER, ID_NUMBER)
    return LicenceType(token_code, code, national, name, authority, sensitive, legal, masked)


LICENCE_TYPES: dict[str, LicenceType] = {
    t.code: t
    for t in (
        _t("01", "JMSFZ", "111001", "居民身份证", "公安机关", sensitive=True),
        _t("02", "HKB", "111002", "居民户口簿", "公安机关", sensitive=True),
        _t("03", "JZZ", "111003", "居住证", "公安机关"),
        _t("04", "JDCJSZ", "111101", "机动车驾驶证", "公安机关交通管理部门"),
        _t("05", "JDCXSZ", "111102", "机动车行驶证", "公安机关交通管理部门"),
        _t("06", "CRJTXZ", "111201", "往来港澳通行证", "公安机关出入境管理部门"),
        _t("07", "YYZZ", "311001", "营业执照", "市场监督管理部门", legal=True),
        _t("08", "SPJYXKZ", "311002", "食品经营许可证", "市场监督管理部门", legal=True),
        _t("09", "SPSCXKZ", "311003", "食品生产许可证", "市场监督管理部门", legal=True),
        _t("10", "YCZMLSXKZ", "311004", "烟草专卖零售许可证", "烟草专卖局", legal=True),
        _t("11", "YPJYXKZ", "311005", "药品经营许可证", "药品监督管理部门", legal=True),
        _t("12", "JHZ", "121001", "结婚证", "民政部门", sensitive=True),
        _t("13", "LHZ", "121002", "离婚证", "民政部门", sensitive=True),
        _t("14", "CSYXZM", "131001", "出生医学证明", "卫生健康部门", sensitive=True),
        _t("15", "YFJZZ", "131002", "预防接种证", "卫生健康部门"),
        _t("16", "SHBZK", "141001", "社会保障卡", "人力资源社会保障部门"),
        _t("17", "YBDZPZ", "141002", "医疗保障电子凭证", "医疗保障部门"),
        _t("18", "ZYZGZS", "141003", "职业资格证书", "人力资源社会保障部门"),
        _t("19", "BDCQZS", "151001", "不动产权证书", "自然资源和规划部门", sensitive=True),
        _t("20", "BDCDJZM", "151002", "不动产登记证明", "自然资源和规划部门"),
        _t("21", "XWZS", "161001", "学位证书", "学位授予单位"),
        _t("22", "XLZS", "161002", "学历证书", "教育部门"),
        _t("23", "JSZGZ", "161003", "教师资格证", "教育部门"),
        _t("24", "LNRYDZ", "171001", "老年人优待证", "老龄工作部门"),
        _t("25", "CJRZ", "171002", "中华人民共和国残疾人证", "残疾人联合会", sensitive=True),
        _t("26", "LSZYZ", "181001", "律师执业证", "司法行政部门"),
        _t("27", "SFJDRZ", "181002", "司法鉴定人执业证", "司法行政部门"),
        _t("28", "TYJRYDZ", "191001", "退役军人优待证", "退役军人事务部门"),
        _t("29", "JZSZCZS", "201001", "建造师注册证书", "住房和城乡建设部门"),
        _t("30", "DLYSJYXKZ", "211001", "道路运输经营许可证", "交通运输部门", legal=True),
        _t("31", "CZQCJSYZ", "211002", "出租汽车驾驶员从业资格证", "交通运输部门"),
        _t("32", "YLJGZYXKZ", "131003", "医疗机构执业许可证", "卫生健康部门", legal=True),
        _t("33", "PWXKZ", "221001", "排污许可证", "生态环境部门", legal=True),
    )
}


@dataclass(frozen=True, slots=True)
class Scene:
    """A verification scene: which licence types it may check and which fields it may see."""

    code: str
    name: str
    disclosures: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def fields_for(self, type_code: str) -> tuple[str, ...] | None:
        """The fields this scene may see for `type_code`, or None when it may not check it."""
        return self.disclosures.get(type_code)


_ID_VIEW = (HOLDER_NAME, NUMBER, VALID_UNTIL, STATUS)
SCENES: dict[str, Scene] = {
    s.code: s
    for s in (
        Scene(
            "TRAFFIC_CHECK",
            "道路交通执法",
            {
                "JDCJSZ": (HOLDER_NAME, NUMBER, ID_NUMBER, VALID_FROM, VALID_UNTIL, ISSUER, STATUS),
                "JDCXSZ": (HOLDER_NAME, NUMBER, VALID_UNTIL, ISSUER, STATUS),
                "JMSFZ": _ID_VIEW,
                "CZQCJSYZ": (HOLDER_NAME, NUMBER, VALID_UNTIL, STATUS),
                "DLYSJYXKZ": (HOLDER_NAME, NUMBER, VALID_UNTIL, ISSUER, STATUS),
            },
        ),
        Scene("HOTEL_CHECKIN", "旅馆住宿登记", {"JMSFZ": _ID_VIEW, "JZZ": _ID_VIEW}),
        Scene(
            "PROPERTY_TRANSACTION",
            "房产交易两证核验",
            {"BDCQZS": (HOLDER_NAME, NUMBER, ISSUER, STATUS), "JMSFZ": _ID_VIEW},
        ),
        Scene(
            "MARKET_INSPECTION",
            "市场监管执法检查",
            {
                code: (HOLDER_NAME, NUMBER, VALID_FROM, VALID_UNTIL, ISSUER, STATUS)
                for code in ("YYZZ", "SPJYXKZ", "SPSCXKZ", "YCZMLSXKZ", "YPJYXKZ")
            },
        ),
        Scene(
            "LEGAL_PRACTICE",
            "律师、司法鉴定人执业亮证",
            {
                "LSZYZ": (HOLDER_NAME, NUMBER, ISSUER, STATUS),
                "SFJDRZ": (HOLDER_NAME, NUMBER, ISSUER, STATUS),
            },
        ),
        Scene(
            "ELDERLY_SERVICE",
            "老年人优待服务",
            {"LNRYDZ": (HOLDER_NAME, VALID_UNTIL, STATUS), "JMSFZ": _ID_VIEW},
        ),
    )
}


BY_TOKEN_CODE: dict[str, LicenceType] = {t.token_code: t for t in LICENCE_TYPES.values()}
assert len(BY_TOKEN_CODE) == len(LICENCE_TYPES), "token codes must be unique"  # noqa: S101


def licence_type(code: str) -> LicenceType | None:
    return LICENCE_TYPES.get(code)


def by_token_code(token_code: str) -> LicenceType | None:
    return BY_TOKEN_CODE.get(token_code)
