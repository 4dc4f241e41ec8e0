"""SDL1 QR attacks not already in tests/electronic_cards (test_codec.py covers tampered bytes and
characters, skew, lifetime, unknown claims and arbitrary input; test_verification_api.py every
result code, replay and the usage records): decompression bombs, over-long text, algorithm
substitution in the protected header, a kid smuggled into the unprotected header."""

from __future__ import annotations

import os
import time
import zlib

import cbor2

from electronic_cards import base45, sdl1
from electronic_cards.models import VerificationResult
from electronic_cards.verification import decode_step, signature_and_time
from tests.electronic_cards.test_codec import KEY, _online


def _check(text: str) -> VerificationResult | None:
    decoded = decode_step(text)
    if isinstance(decoded, VerificationResult):
        return decoded
    verify = KEY.verify if decoded.sign1.kid == KEY.kid else None
    return signature_and_time(decoded, verify, int(time.time()), key_alg=KEY.alg)


def _sign1(protected: dict[int, object], unprotected: dict[int, object] | None = None) -> str:
    """A COSE_Sign1 over valid claims, signed with the real key, with any headers we like."""
    claims = sdl1.encode_token(_online(), KEY)
    payload = sdl1.decode_token(claims).sign1.payload
    header = cbor2.dumps(protected)
    signature = KEY.sign(sdl1.sig_structure(header, payload))
    cose = cbor2.dumps(cbor2.CBORTag(18, [header, unprotected or {}, payload, signature]))
    return "SDL1:" + base45.encode(cose)


def test_our_own_assembly_is_valid() -> None:
    """The helper above makes tokens the verifier accepts, so the refusals below mean something."""
    assert _check(_sign1({sdl1.H_ALG: sdl1.ALG_ES256, sdl1.H_KID: KEY.kid})) is None


def test_decompression_bomb_is_malformed_without_inflating_it() -> None:
    bomb = zlib.compress(b"\x00" * 50_000_000, 9)  # 50 MB of zeros in ~50 KB: over the length
    assert _check("SDL1:" + base45.encode(bomb)) is VerificationResult.MALFORMED
    small_bomb = zlib.compress(b"\xd2" + b"\x00" * 200_000, 9)  # fits in 1,000 characters
    text = "SDL1:" + base45.encode(small_bomb)
    assert len(text) <= sdl1.MAX_TEXT
    # refused once 8 KiB are out (the inflater is bounded), not after inflating 200 KB
    assert _check(text) is VerificationResult.MALFORMED


def test_over_long_text_is_malformed() -> None:
    assert _check("SDL1:" + "A" * sdl1.MAX_TEXT) is VerificationResult.MALFORMED


def test_algorithm_substitution_is_refused() -> None:
    # SM2 named in the header, ES256 signature by the real key: the key decides the algorithm.
    sm2 = _sign1({sdl1.H_ALG: sdl1.ALG_SM2_SM3, sdl1.H_KID: KEY.kid})
    assert _check(sm2) is VerificationResult.INVALID_SIGNATURE
    for alg in (0, -8, -35, "ES256", None):  # none, EdDSA, ES384, a text label, missing
        token = _sign1({sdl1.H_ALG: alg, sdl1.H_KID: KEY.kid})
        assert _check(token) is VerificationResult.MALFORMED, alg


def test_headers_outside_the_signature_are_refused() -> None:
    smuggled = _sign1({sdl1.H_ALG: sdl1.ALG_ES256}, {sdl1.H_KID: KEY.kid})
    assert _check(smuggled) is VerificationResult.MALFORMED
    extra = _sign1({sdl1.H_ALG: sdl1.ALG_ES256, sdl1.H_KID: KEY.kid}, {99: os.urandom(4)})
    assert _check(extra) is VerificationResult.MALFORMED
