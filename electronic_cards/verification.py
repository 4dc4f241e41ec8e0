"""Spec §6 checks 1–4 as pure functions, shared by the API verifier and `zsb verify-qr`.

Checks 5–8 need the verifier account and the database; they live in the service.
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
    token: DecodedToken, check: SignatureCheck | None, now: int, skew: int = SKEW_SECONDS
) -> VerificationResult | None:
    """Steps 2–4: UNKNOWN_KEY (no key for the kid), INVALID_SIGNATURE, NOT_YET_VALID, EXPIRED;
    None when the token passed all three."""
    if check is None:
        return VerificationResult.UNKNOWN_KEY
    if not check(token.sign1.signature, token.sign1.to_be_signed):
        return VerificationResult.INVALID_SIGNATURE
    if token.claims.iat > now + skew:
        return VerificationResult.NOT_YET_VALID
    if token.claims.exp < now - skew:
        return VerificationResult.EXPIRED
    return None
