"""Demo data (`zsb seed --demo`): fictitious people of Qingdao, one per role the product serves.

Idempotent: running it again updates the same accounts. Each domain seeds its own part through
its own service; this module only says what the demo contains.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.context import AppState
from auth.identity_numbers import with_check_digit
from auth.models import AssuranceLevel, Organization, Role
from auth.service import UserSpec
from electronic_cards.demo import seed_demo_licences
from matters import demo as demo_catalogue
from matters.service import seed_catalogue
from matters.store import MatterStore

log = logging.getLogger(__name__)

DEMO_VERSION = 5  # 2: the demo matter catalogue; 3: demo licences in the wallets;
# 4: catalogue licence type codes aligned with the wallet (免证办 references are checked)
# 5: 结果送达方式 per matter, 退役军人优待证申领's result (an e-licence)
META = "meta"

# Identity numbers: valid structure and check digit, Qingdao region codes, fictitious people.
DEMO_USERS = [
    UserSpec(
        "13800000001",
        (Role.CITIZEN,),
        AssuranceLevel.L3,
        "张三明",
        with_check_digit("37020219850615123"),
        "370202",
        tags=("个体工商户",),
    ),
    UserSpec(
        "13800000002",
        (Role.CITIZEN,),
        AssuranceLevel.L2,
        "李四",
        with_check_digit("37021219900302456"),
        "370212",
    ),
    UserSpec(
        "13800000003",
        (Role.CITIZEN,),
        AssuranceLevel.L3,
        "王秀英",
        with_check_digit("37020319580908782"),
        "370203",
        tags=("老年人",),
    ),
    UserSpec(
        "13800000101",
        (Role.VERIFIER, Role.CITIZEN),
        AssuranceLevel.L3,
        "赵警官",
        with_check_digit("37021119800101331"),
        "370211",
        organization=Organization("QD-GAJ-JJZD", "青岛市公安局交通警察支队"),
        scenes=("TRAFFIC_CHECK",),
    ),
    UserSpec(
        "13800000102",
        (Role.VERIFIER, Role.CITIZEN),
        AssuranceLevel.L2,
        "孙前台",
        with_check_digit("37021419920720224"),
        "370214",
        organization=Organization("QD-HOTEL-HJHY", "青岛海景花园大酒店（旅馆业治安管理）"),
        scenes=("HOTEL_CHECKIN",),
    ),
    UserSpec(
        "13800000201",
        (Role.CLERK, Role.CITIZEN),
        AssuranceLevel.L3,
        "周窗口",
        with_check_digit("37020219880512118"),
        "370202",
        department_code="370200-XZSPFWJ",
    ),
    UserSpec(
        "13800000202",
        (Role.SUPERVISOR, Role.CITIZEN),
        AssuranceLevel.L3,
        "郑督查",
        with_check_digit("37020219800202113"),
        "370202",
        department_code="370200-XZSPFWJ",
    ),
    UserSpec(
        "13800000301",
        (Role.OPERATOR,),
        AssuranceLevel.L3,
        "吴运营",
        with_check_digit("37020319870303335"),
        "370203",
    ),
    UserSpec(
        "13800000302",
        (Role.OPERATOR,),
        AssuranceLevel.L3,
        "郑审核",
        with_check_digit("37021319890404447"),
        "370213",
    ),
    UserSpec(
        "13800000901",
        (Role.ADMIN,),
        AssuranceLevel.L3,
        "钱管理",
        with_check_digit("37020219830909559"),
        "370202",
    ),
]


async def seed_demo(state: AppState) -> None:
    auth = state.auth_service()
    for spec in DEMO_USERS:
        await auth.ensure_user(spec)
    matters = await seed_catalogue(MatterStore(state.db), demo_catalogue.generate())
    await seed_demo_licences(auth, state.cards_service())
    await state.db[META].update_one(
        {"_id": "demo_seed"},
        {"$set": {"version": DEMO_VERSION, "seeded_at": datetime.now(UTC)}},
        upsert=True,
    )
    log.info("demo data seeded", extra={"users": len(DEMO_USERS), "matters": matters})


async def seed_demo_if_needed(state: AppState) -> None:
    """Seed on the first dev start, and again when the demo content changes."""
    marker = await state.db[META].find_one({"_id": "demo_seed"})
    if marker is None or marker.get("version") != DEMO_VERSION:
        await seed_demo(state)
