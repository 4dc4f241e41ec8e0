"""SDL1 encoding and decoding without the database: RFC vectors, budgets, tampering, fuzzing."""

from __future__ import annotations

import os
import time
import zlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electronic_cards import base45, rendering, sdl1
from electronic_cards.keys import SdlKey, kid_of
from electronic_cards.models import VerificationResult
from electronic_cards.verification import decode_step, signature_and_time
from tests.electronic_cards import spec_verifier


def _key() -> SdlKey:
    from datetime import UTC, datetime

    private = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return SdlKey(kid_of(private.public_key()), private, private.public_key(), now, now, None)


KEY = _key()


def _online(now: int | None = None) -> sdl1.Claims:
    iat = int(time.time()) if now is None else now
    return sdl1.Claims("370200", iat, iat + 60, os.urandom(8), "04", ref=os.urandom(12))


def _offline() -> sdl1.Claims:
    iat = int(time.time())
    return sdl1.Claims(
        "370200",
        iat,
        iat + 60,
        os.urandom(8),
        "04",
        nm="欧阳*明",
        idn="3702**********1230",
        no="3702**********1230",
        vu=20310301,
        si=131_071,
        sl="12",
    )


def _check(text: str) -> VerificationResult | None:
    decoded = decode_step(text)
    if isinstance(decoded, VerificationResult):
        return decoded
    verify = KEY.verify if decoded.sign1.kid == KEY.kid else None
    return signature_and_time(decoded, verify, int(time.time()))


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_rfc9285_examples(raw: bytes, text: str) -> None:
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


@given(st.binary(max_size=300))
def test_base45_round_trip(raw: bytes) -> None:
    assert base45.decode(base45.encode(raw)) == raw


def test_online_token_fits_the_budget_and_is_raw_cose() -> None:
    text = sdl1.encode_token(_online(), KEY)
    assert len(text) <= 230
    version, _ = rendering.codewords(text)
    assert version <= 8
    assert base45.decode(text[5:])[0] == 0xD2  # compressing would make it longer


def test_offline_token_fits_the_budget() -> None:
    text = sdl1.encode_token(_offline(), KEY)
    assert len(text) <= 400
    version, _ = rendering.codewords(text)
    assert version <= 12


def test_spec_only_verifier_accepts_both_modes() -> None:
    document = {"keys": [_jwk(KEY)]}
    claims = spec_verifier.verify(sdl1.encode_token(_online(), KEY), document)
    assert claims[-70010] == "04"
    assert len(claims[-70011]) == 12
    assert len(claims[7]) == 8
    assert 0 < claims[4] - claims[6] <= 300
    offline = spec_verifier.verify(sdl1.encode_token(_offline(), KEY), document)
    assert offline[-70012] == "欧阳*明"
    assert offline[-70016] == 131_071


def _jwk(key: SdlKey) -> dict[str, object]:
    from datetime import UTC, datetime

    from electronic_cards.keys import SdlKeys

    ring = SdlKeys(b"k" * 32)
    ring._keys = {key.kid: key}
    return ring.jwks(datetime.now(UTC))["keys"][0]


def test_decoder_reads_zlib_payloads() -> None:
    cose = base45.decode(sdl1.encode_token(_offline(), KEY)[5:])
    if cose[0] == 0x78:
        cose = zlib.decompress(cose)
    assert _check("SDL1:" + base45.encode(zlib.compress(cose))) is None
    assert _check("SDL1:" + base45.encode(cose)) is None


def test_every_tampered_byte_is_caught() -> None:
    text = sdl1.encode_token(_online(), KEY)
    raw = base45.decode(text[5:])
    kid_at = raw.find(KEY.kid)
    for i in range(len(raw)):
        forged = bytearray(raw)
        forged[i] ^= 0x01
        result = _check("SDL1:" + base45.encode(bytes(forged)))
        if kid_at <= i < kid_at + 8:
            assert result is VerificationResult.UNKNOWN_KEY, i  # spec §6 step 2 comes first
        else:
            assert result in (VerificationResult.MALFORMED, VerificationResult.INVALID_SIGNATURE), i


def test_every_tampered_character_is_caught() -> None:
    text = sdl1.encode_token(_online(), KEY)
    for i in range(len(text)):
        replacement = "A" if text[i] != "A" else "B"
        result = _check(text[:i] + replacement + text[i + 1 :])
        assert result in (
            VerificationResult.MALFORMED,
            VerificationResult.INVALID_SIGNATURE,
            VerificationResult.UNKNOWN_KEY,
        ), i


def test_time_checks_allow_thirty_seconds_of_skew() -> None:
    now = int(time.time())
    assert _check(sdl1.encode_token(_online(now + 25), KEY)) is None
    assert _check(sdl1.encode_token(_online(now + 40), KEY)) is VerificationResult.NOT_YET_VALID
    assert _check(sdl1.encode_token(_online(now - 85), KEY)) is None  # exp 25 s ago
    assert _check(sdl1.encode_token(_online(now - 95), KEY)) is VerificationResult.EXPIRED


def test_over_long_lifetime_and_unknown_claims_are_malformed() -> None:
    claims = _online()
    long_lived = sdl1.Claims(claims.iss, claims.iat, claims.iat + 301, claims.cti, "X", claims.ref)
    assert _check(sdl1.encode_token(long_lived, KEY)) is VerificationResult.MALFORMED
    extra = {**claims.to_cbor_map(), -70099: 1}
    text = sdl1.encode_sign1(cbor2.dumps(extra), KEY, sdl1.TOKEN_PREFIX)
    assert _check(text) is VerificationResult.MALFORMED
    assert _check("SDL1:" + "A" * 1000) is VerificationResult.MALFORMED  # over 1,000 characters


_B45_TEXT = st.text(alphabet=base45.ALPHABET, max_size=400)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=1200), _B45_TEXT.map(lambda t: "SDL1:" + t)))
def test_decoder_never_raises_on_arbitrary_text(text: str) -> None:
    result = decode_step(text)
    assert isinstance(result, (VerificationResult, sdl1.DecodedToken))


@settings(max_examples=300)
@given(st.binary(max_size=400), st.booleans())
def test_decoder_never_raises_on_arbitrary_bytes(raw: bytes, deflate: bool) -> None:
    body = zlib.compress(raw) if deflate else raw
    result = decode_step("SDL1:" + base45.encode(body))
    assert result is VerificationResult.MALFORMED or isinstance(result, sdl1.DecodedToken)


_CBOR_VALUES = st.recursive(
    st.one_of(st.integers(), st.binary(max_size=20), st.text(max_size=10), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.integers(-70020, 10), inner, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(_CBOR_VALUES, _CBOR_VALUES, st.binary(max_size=70))
def test_decoder_never_raises_on_arbitrary_cose(header: object, claims: object, sig: bytes) -> None:
    structure = cbor2.CBORTag(18, [cbor2.dumps(header), {}, cbor2.dumps(claims), sig])
    result = decode_step("SDL1:" + base45.encode(cbor2.dumps(structure)))
    assert isinstance(result, (VerificationResult, sdl1.DecodedToken))
    if not isinstance(result, VerificationResult):  # well-formed by chance: must not verify
        assert _check("SDL1:" + base45.encode(cbor2.dumps(structure))) in (
            VerificationResult.UNKNOWN_KEY,
            VerificationResult.INVALID_SIGNATURE,
        )


def test_zlib_never_shortens_an_online_token() -> None:
    """Why encode_token does not try zlib on online tokens: it always loses, by a wide margin."""
    margin = min(
        len(zlib.compress(cose, 9)) - len(cose)
        for cose in (base45.decode(sdl1.encode_token(_online(), KEY)[5:]) for _ in range(2000))
    )
    assert margin >= 5


def test_outer_structure_must_be_exact() -> None:
    cose = base45.decode(sdl1.encode_token(_online(), KEY)[5:])
    assert _check("SDL1:" + base45.encode(cose)) is None
    assert _check("SDL1:" + base45.encode(cose + b"\x00")) is VerificationResult.MALFORMED
    # The same structure with a needlessly long length for the protected header (0x58 0x0e).
    longer = cose[:2] + b"\x58" + bytes((cose[2] & 0x1F,)) + cose[3:]
    assert _check("SDL1:" + base45.encode(longer)) is VerificationResult.MALFORMED
    # cbor2 reads our hand-assembled structure as the COSE_Sign1 it claims to be.
    tagged = cbor2.loads(cose)
    assert tagged.tag == 18
    assert len(tagged.value) == 4


@settings(max_examples=200)
@given(st.integers(1, 2**256 - 1), st.integers(1, 2**256 - 1))
def test_signature_format_conversions_match_the_asn1_helpers(r: int, s: int) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )

    from electronic_cards.keys import der_to_raw, raw_to_der

    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    der = encode_dss_signature(r, s)
    assert raw_to_der(raw) == der
    assert der_to_raw(der) == raw
    assert decode_dss_signature(raw_to_der(raw)) == (r, s)


@given(
    st.text(alphabet="0123456789", min_size=1, max_size=23),
    st.integers(2**16, 2**32 - 301),
    st.binary(min_size=8, max_size=8),
    st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    st.binary(min_size=12, max_size=12),
)
def test_packed_online_claims_are_the_cbor_cbor2_writes(
    iss: str, iat: int, cti: bytes, lt: str, ref: bytes
) -> None:
    claims = sdl1.Claims(iss, iat, iat + 60, cti, lt, ref=ref)
    assert sdl1._online_claims(claims) == cbor2.dumps(claims.to_cbor_map())


def _general_claims(payload: bytes) -> sdl1.Claims | str:
    try:
        return sdl1.parse_claims_cbor(payload)
    except sdl1.MalformedTokenError:
        return "MALFORMED"


@given(
    st.text(min_size=0, max_size=23),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.binary(min_size=8, max_size=8),
    st.text(min_size=2, max_size=2),
    st.binary(min_size=12, max_size=12),
)
def test_fast_claims_parser_agrees_with_the_general_one(
    iss: str, iat: int, exp: int, cti: bytes, lt: str, ref: bytes
) -> None:
    payload = cbor2.dumps({1: iss, 6: iat, 4: exp, 7: cti, -70010: lt, -70011: ref})
    try:
        fast: sdl1.Claims | str = sdl1.parse_claims(payload)
    except sdl1.MalformedTokenError:
        fast = "MALFORMED"
    assert fast == _general_claims(payload)
