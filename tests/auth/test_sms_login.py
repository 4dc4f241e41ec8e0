"""SMS one-time-code sign-in, through HTTP against the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from auth.store import LOGIN_CODES, AuthStore
from auth.user_store import USERS
from tests.factories import LOGIN, REQUEST_CODE, Api, Json, create_demo_user, phone_key_of


def _user_of(api: Api, phone: str) -> Json:
    return {"phone_index": phone_key_of(api, phone)}


async def _request(api: Api, phone: str) -> Json:
    return dict((await api.data(REQUEST_CODE, {"phone": phone}))["requestLoginCode"])


async def _login(api: Api, phone: str, code: str) -> Json:
    return dict((await api.data(LOGIN, {"phone": phone, "code": code}))["loginWithCode"])


async def test_demo_citizen_signs_in_and_sees_masked_self(api: Api) -> None:
    await create_demo_user(api.state, "13800000001")
    payload = await api.login("13800000001")
    assert payload["expiresIn"] == 900
    assert payload["user"]["phone"] == "138****0001"
    me = await api.data("{ me { phone name idNumber roles } }", token=payload["accessToken"])
    assert me["me"] == {
        "phone": "138****0001",
        "name": "张*明",
        "idNumber": "3702**********1230",
        "roles": ["CITIZEN"],
    }


async def test_unknown_phone_registers_an_l1_citizen(api: Api) -> None:
    payload = await api.login("13912345678")
    me = await api.data(
        "{ me { roles assuranceLevel name idNumber } }", token=payload["accessToken"]
    )
    assert me["me"] == {
        "roles": ["CITIZEN"],
        "assuranceLevel": "L1",
        "name": None,
        "idNumber": None,
    }


@pytest.mark.parametrize("phone", ["12345", "1380000000a", "23800000001", "", "1" * 40])
async def test_malformed_phone_is_refused_and_nothing_is_stored(api: Api, phone: str) -> None:
    result = await _request(api, phone)
    assert result["userErrors"] == [
        {"field": "phone", "code": "INVALID_PHONE", "message": result["userErrors"][0]["message"]}
    ]
    assert result["retryAfterSeconds"] is None
    assert await api.state.db[LOGIN_CODES].count_documents({}) == 0


async def test_second_request_within_a_minute_is_rate_limited(api: Api) -> None:
    assert (await _request(api, "13800000001"))["userErrors"] == []
    first_code = await api.last_sms_code("13800000001")
    again = await _request(api, "13800000001")
    assert [e["code"] for e in again["userErrors"]] == ["RATE_LIMITED"]
    # the refused request changed nothing: the first code still signs in
    assert (await _login(api, "13800000001", first_code))["userErrors"] == []


async def test_daily_quota_allows_ten_codes(api: Api) -> None:
    store = AuthStore(api.state.db)
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    taken = [
        await store.take_login_code_quota(
            "13800000002",
            "2026-11-23",
            start + timedelta(seconds=61 * i),
            per_day=10,
            interval=timedelta(seconds=60),
        )
        for i in range(12)
    ]
    assert taken == [True] * 10 + [False] * 2
    # within the minute is refused even before the quota is spent
    other = [
        await store.take_login_code_quota(
            "13800000003",
            "2026-11-23",
            start + timedelta(seconds=s),
            per_day=10,
            interval=timedelta(seconds=60),
        )
        for s in (0, 30, 59, 60)
    ]
    assert other == [True, False, False, True]


async def test_concurrent_code_requests_send_only_one(api: Api) -> None:
    results = await asyncio.gather(*[_request(api, "13800000002") for _ in range(5)])
    sent = [r for r in results if r["userErrors"] == []]
    assert len(sent) == 1
    assert await api.state.db["dev_sms_outbox"].count_documents({"phone": "13800000002"}) == 1


async def test_wrong_code_then_lock_after_five_tries(api: Api) -> None:
    await _request(api, "13800000001")
    code = await api.last_sms_code("13800000001")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    codes = [(await _login(api, "13800000001", wrong))["userErrors"][0]["code"] for _ in range(5)]
    assert codes == ["INVALID_CODE"] * 4 + ["TOO_MANY_ATTEMPTS"]
    locked = await _login(api, "13800000001", code)
    assert [e["code"] for e in locked["userErrors"]] == ["TOO_MANY_ATTEMPTS"]
    assert locked["accessToken"] is None
    assert await api.state.db[USERS].count_documents(_user_of(api, "13800000001")) == 0


@pytest.mark.parametrize("code", ["12345", "abcdef", "1234567", ""])
async def test_malformed_code_is_invalid(api: Api, code: str) -> None:
    await _request(api, "13800000001")
    result = await _login(api, "13800000001", code)
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("code", "INVALID_CODE")]


async def test_expired_code_is_invalid(api: Api) -> None:
    await _request(api, "13800000001")
    code = await api.last_sms_code("13800000001")
    await api.state.db[LOGIN_CODES].update_one(
        {"_id": phone_key_of(api, "13800000001")},
        {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    result = await _login(api, "13800000001", code)
    assert [e["code"] for e in result["userErrors"]] == ["INVALID_CODE"]


async def test_code_signs_in_once_even_when_sent_twice_at_once(api: Api) -> None:
    await _request(api, "13800000001")
    code = await api.last_sms_code("13800000001")
    results = await asyncio.gather(*[_login(api, "13800000001", code) for _ in range(4)])
    assert sum(1 for r in results if r["accessToken"]) == 1
    assert all(
        r["userErrors"][0]["code"] == "INVALID_CODE" for r in results if not r["accessToken"]
    )
    assert await api.state.db[USERS].count_documents(_user_of(api, "13800000001")) == 1


async def test_codes_are_stored_hashed(api: Api) -> None:
    await _request(api, "13800000001")
    code = await api.last_sms_code("13800000001")
    stored = await api.state.db[LOGIN_CODES].find_one({"_id": phone_key_of(api, "13800000001")})
    assert stored is not None
    assert code not in str(stored)
