"""Unified identity sign-in (OIDC stand-in over real HTTP) and identity numbers at rest."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from auth import identity_numbers
from auth.dev_issuer import DevIssuer
from auth.errors import InvalidIdNumberError
from auth.user_store import USERS
from tests.factories import Api, Json, create_demo_user, phone_key_of

EXCHANGE = """
mutation X($t: String!) {
  exchangeIdentityToken(input: {idToken: $t}) {
    accessToken refreshToken
    user { phone name idNumber assuranceLevel }
    userErrors { field code }
  }
}"""

ZHANG_ID = identity_numbers.with_check_digit("37020219850615123")


async def _exchange(api: Api, token: str) -> Json:
    return dict((await api.data(EXCHANGE, {"t": token}))["exchangeIdentityToken"])


async def test_new_person_is_registered_from_the_id_token(api: Api, oidc_issuer: DevIssuer) -> None:
    number = identity_numbers.with_check_digit("37021119770707111")
    token = oidc_issuer.mint(name="欧阳娜娜", id_number=number, phone="13700000009", acr="L3")
    result = await _exchange(api, token)
    assert result["userErrors"] == []
    assert result["user"] == {
        "phone": "137****0009",
        "name": "欧**娜",
        "idNumber": number[:4] + "*" * 10 + number[-4:],
        "assuranceLevel": "L3",
    }
    stored = await api.state.db[USERS].find_one({"phone_index": phone_key_of(api, "13700000009")})
    assert stored is not None
    as_text = json.dumps(stored, default=str)
    assert number not in as_text  # encrypted, never in the clear
    assert "13700000009" not in as_text
    assert stored["id_number_index"] == identity_numbers.blind_index(
        api.state.keyring.identity_index, number
    )


async def test_existing_user_is_linked_by_identity_number(api: Api, oidc_issuer: DevIssuer) -> None:
    user = await create_demo_user(api.state, "13800000002")  # 李四, L2
    li_number = identity_numbers.decrypt(
        api.state.keyring.identity_encryption, user.id_number_cipher or b""
    )
    result = await _exchange(api, oidc_issuer.mint(name="李四", id_number=li_number, acr="face"))
    assert result["userErrors"] == []
    assert result["user"]["phone"] == "138****0002"
    assert result["user"]["assuranceLevel"] == "L3"  # face verification raised the level
    assert await api.state.db[USERS].count_documents({}) == 1


async def test_sms_account_gets_its_identity_bound_by_phone(
    api: Api, oidc_issuer: DevIssuer
) -> None:
    await api.login("13600000006")  # L1, no identity yet
    token = oidc_issuer.mint(name="陈六", id_number=ZHANG_ID, phone="13600000006", acr="L2")
    result = await _exchange(api, token)
    assert result["userErrors"] == []
    assert result["user"]["assuranceLevel"] == "L2"
    assert await api.state.db[USERS].count_documents({}) == 1


async def test_bad_id_tokens_are_refused_and_change_nothing(
    api: Api, oidc_issuer: DevIssuer
) -> None:
    other = DevIssuer(oidc_issuer.issuer, oidc_issuer.audience)
    other.kid = oidc_issuer.kid  # same kid, different key: a forged signature
    bad = {
        "expired": oidc_issuer.mint(
            name="甲", id_number=ZHANG_ID, phone="13700000001", lifetime=timedelta(minutes=-5)
        ),
        "wrong audience": oidc_issuer.mint(
            name="甲", id_number=ZHANG_ID, phone="13700000001", aud="someone-else"
        ),
        "wrong issuer": oidc_issuer.mint(
            name="甲", id_number=ZHANG_ID, phone="13700000001", iss="http://127.0.0.1:1/evil"
        ),
        "forged signature": other.mint(name="甲", id_number=ZHANG_ID, phone="13700000001"),
        "unknown kid": jwt.encode(
            {"sub": "x"},
            ec.generate_private_key(ec.SECP256R1()),
            "ES256",
            headers={"kid": "unknown"},
        ),
        "alg none": jwt.encode({"sub": "x"}, "", algorithm="none"),
        "not a jwt": "hello",
        "no phone for a new person": oidc_issuer.mint(name="甲", id_number=ZHANG_ID),
    }
    for name, token in bad.items():
        result = await _exchange(api, token)
        assert result["accessToken"] is None, name
        assert result["userErrors"][0]["field"] == "idToken", name
        assert result["userErrors"][0]["code"] == "INVALID_TOKEN", name
    invalid_number = oidc_issuer.mint(
        name="甲", id_number="370202198506151231", phone="13700000001"
    )
    result = await _exchange(api, invalid_number)
    assert result["userErrors"] == [{"field": "idToken", "code": "INVALID_ID_NUMBER"}]
    assert await api.state.db[USERS].count_documents({}) == 0
    assert await api.state.db["auth_sessions"].count_documents({}) == 0


# -- identity numbers ----------------------------------------------------------------------

prefixes = st.builds(
    lambda region, year, month, day, seq: f"{region}{year:04d}{month:02d}{day:02d}{seq:03d}",
    st.sampled_from(["370202", "370203", "370211", "370212", "370281", "110101"]),
    st.integers(1900, 2020),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 999),
)


@given(prefixes)
def test_every_well_formed_number_validates(prefix: str) -> None:
    number = identity_numbers.with_check_digit(prefix)
    assert identity_numbers.normalize_id_number(number.lower()) == number


@given(prefixes, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(prefix: str, position: int, delta: int) -> None:
    number = identity_numbers.with_check_digit(prefix)
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    with pytest.raises(InvalidIdNumberError):
        identity_numbers.normalize_id_number(changed)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "37020219850615123",
        "3702021985061512301",
        "37020219851315123X",
        "99020219850615123X",
        "37020230000101123X",
        "abcdefghijklmnopqr",
    ],
)
def test_malformed_numbers_are_refused(value: str) -> None:
    with pytest.raises(InvalidIdNumberError):
        identity_numbers.normalize_id_number(value)


def test_encryption_round_trips_and_is_randomised() -> None:
    key = b"k" * 32
    first, second = identity_numbers.encrypt(key, ZHANG_ID), identity_numbers.encrypt(key, ZHANG_ID)
    assert first != second
    assert identity_numbers.decrypt(key, first) == ZHANG_ID
    tampered = first[:-1] + bytes([first[-1] ^ 1])
    with pytest.raises(ValueError, match="authenticate"):
        identity_numbers.decrypt(key, tampered)
