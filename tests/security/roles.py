"""The people the security tests sign in as: one demo account per role, plus anonymous."""

from __future__ import annotations

from dataclasses import dataclass

from app.context import AppState
from tests.factories import create_demo_user

# role name -> demo phone (None: no token at all)
ROLE_PHONES: dict[str, str | None] = {
    "anonymous": None,
    "citizen": "13800000001",  # 张三明, L3, licences in the demo wallet
    "clerk": "13800000201",  # 周窗口, CLERK + CITIZEN, 行政审批服务局
    "operator": "13800000301",  # 吴运营
    "verifier": "13800000101",  # 赵警官, VERIFIER + CITIZEN, TRAFFIC_CHECK
    "admin": "13800000901",  # 钱管理
    "supervisor": "13800000202",  # 督查, SUPERVISOR (tickets, rating exports of a department)
}
OTHER_CITIZEN = "13800000002"  # 李四: owns the "someone else's object" of every cell
ROLES = tuple(ROLE_PHONES)


@dataclass(frozen=True)
class Person:
    role: str
    phone: str | None
    token: str | None


async def sign_in_everyone(state: AppState) -> dict[str, Person]:
    """A session per role, opened through the auth service (no SMS round trip per person)."""
    people: dict[str, Person] = {}
    auth = state.auth_service()
    for role, phone in ROLE_PHONES.items():
        if phone is None:
            people[role] = Person(role, None, None)
            continue
        await create_demo_user(state, phone)
        tokens = await auth.open_session_for_phone(phone, method="test")
        people[role] = Person(role, phone, tokens.access_token)
    await create_demo_user(state, OTHER_CITIZEN)
    tokens = await auth.open_session_for_phone(OTHER_CITIZEN, method="test")
    people["other"] = Person("other", OTHER_CITIZEN, tokens.access_token)
    return people
