"""Demo licences (fictitious, like the demo people): what `zsb seed --demo` puts in wallets."""

from __future__ import annotations

import logging
from datetime import date

from auth.service import AuthService
from electronic_cards.service import CardsService, LicenceSpec

log = logging.getLogger(__name__)

_PSB = ("青岛市公安局", "QD-GAJ")
_TRAFFIC = ("青岛市公安局交通警察支队", "QD-GAJ-JJZD")  # the demo traffic verifier's organisation
_SHINAN_APPROVALS = ("青岛市市南区行政审批服务局", "370202-XZSPFWJ")
_AGEING = ("青岛市老龄工作委员会办公室", "QD-LLB")


async def seed_demo_licences(auth: AuthService, cards: CardsService) -> int:
    """Idempotent: a holder already holding a licence of a type keeps it as it is."""
    seeded = 0
    for phone, specs in _demo_specs().items():
        user = await auth.find_user_by_phone(phone)
        if user is None:
            continue
        id_number = auth.reveal_id_number(user)
        for spec in specs:
            number = spec.number or id_number or ""
            full = LicenceSpec(
                spec.type_code,
                spec.holder_name,
                number,
                spec.issuer,
                spec.issuer_code,
                spec.valid_from,
                spec.valid_until,
                id_number,
                spec.attributes,
            )
            if await cards.issue_demo_licence(user.id, full):
                seeded += 1
    log.info("demo licences seeded", extra={"licences": seeded})
    return seeded


def _spec(
    type_code: str,
    holder: str,
    number: str,
    issuer: tuple[str, str],
    valid: tuple[date, date | None],
    **attributes: str,
) -> LicenceSpec:
    return LicenceSpec(
        type_code, holder, number, issuer[0], issuer[1], valid[0], valid[1], None, attributes
    )


def _demo_specs() -> dict[str, list[LicenceSpec]]:
    # An empty number means "the holder's identity number" (居民身份证, and 驾驶证 numbers are
    # the identity number in China).
    return {
        "13800000001": [
            _spec("JMSFZ", "张三明", "", _PSB, (date(2016, 6, 15), date(2036, 6, 15))),
            _spec(
                "JDCJSZ",
                "张三明",
                "",
                _TRAFFIC,
                (date(2021, 3, 1), date(2031, 3, 1)),
                driving_class="C1",
            ),
            _spec(
                "YYZZ",
                "青岛市市南区三明便利店",
                "92370202MA3C4XYZ1K",
                _SHINAN_APPROVALS,
                (date(2019, 8, 20), None),
                operator="张三明",
                kind="个体工商户",
            ),
        ],
        "13800000002": [
            _spec("JMSFZ", "李四", "", _PSB, (date(2018, 3, 2), date(2038, 3, 2))),
        ],
        "13800000003": [
            _spec("JMSFZ", "王秀英", "", _PSB, (date(2010, 9, 8), None)),
        ],
    }
