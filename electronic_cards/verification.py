"""Spec §6 checks 1–4 as pure functions, shared by the API verifier and `zsb verify-qr`.

Checks 5–8 need the verifier account and the database; they live in verifying.py (a mixin of
the service).
"""

from __future__ import annotations

from collections.abc import Callable

from electronic_cards.models import VerificationResult
from electronic_cards.sdl1 import DecodedToken, MalformedTokenError, decode_token

SKEW_SECONDS = 30  # spec §6 step 4: ±30 s against the server clock

SignatureCheck = Callable[[bytes, bytes], bool]  # (signature, signed bytes) -> ok


def decode_step(text: str) -> DecodedToken | VerificationResult:
    """Step 1: the token, or MALFORMED. Never raises."""
    try:
        return decode_token(text)
    except MalformedTokenError:
        return VerificationResult.MALFORMED


def signature_and_time(
    token: DecodedToken,
    check: SignatureCheck | None,
    now: int,
    skew: int = SKEW_SECONDS,
    *,
    key_alg: int | None = None,
) -> VerificationResult | None:
    """Steps 2–4: UNKNOWN_KEY (no key for the kid), INVALID_SIGNATURE, NOT_YET_VALID, EXPIRED;
    None when the token passed all three.

    `key_alg` is the algorithm of the key found for the kid: a token whose protected header
    names another algorithm is INVALID_SIGNATURE (the key decides the algorithm, and a header
    that disagrees was not written by us)."""
    if check is None:
        return VerificationResult.UNKNOWN_KEY
    if key_alg is not None and token.sign1.alg != key_alg:
        return VerificationResult.INVALID_SIGNATURE
    if not check(token.sign1.signature, token.sign1.to_be_signed):
        return VerificationResult.INVALID_SIGNATURE
    if token.claims.iat > now + skew:
        return VerificationResult.NOT_YET_VALID
    if token.claims.exp < now - skew:
        return VerificationResult.EXPIRED
    return None
