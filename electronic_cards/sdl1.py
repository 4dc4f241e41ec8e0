"""The SDL1 wire format (shared/specs/sdl1-qr.md): COSE_Sign1 over CWT claims, Base45 text.

Pure functions, no I/O. Decoding never trusts its input: every failure of prefix, length,
Base45, zlib, CBOR or COSE structure becomes `MalformedTokenError` and nothing else, so the
verifier can map it to `MALFORMED` (spec §6 step 1). Signature checks live with the keys
(`keys.py`); this module only produces the bytes that were signed.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import cbor2

from electronic_cards import base45

TOKEN_PREFIX = "SDL1:"  # noqa: S105 - a format prefix, not a secret
STATUS_PREFIX = "SDLS1:"
MAX_TEXT = 1_000  # spec §6 step 1: longer texts are refused before any decoding
MAX_STATUS_TEXT = 2_000_000  # a status list of 131,072+ entries, compressed, Base45
MAX_LIFETIME = 300  # spec §3: exp - iat is never over 300 seconds

ALG_ES256 = -7
ALG_SM2_SM3 = -70001

# COSE header labels and CWT claim keys (spec §2, §3).
H_ALG, H_KID = 1, 4
C_ISS, C_IAT, C_EXP, C_CTI = 1, 6, 4, 7
C_LT, C_REF, C_NM, C_IDN, C_NO, C_VU, C_SI, C_SL = (
    -70010,
    -70011,
    -70012,
    -70013,
    -70014,
    -70015,
    -70016,
    -70017,
)
S_BITS, S_LIST = -70020, -70021

_COSE_SIGN1_TAG = 18
_ZLIB_FIRST = 0x78
_COSE_FIRST = 0xD2


class MalformedTokenError(ValueError):
    """The text is not a well-formed SDL1 (or SDLS1) object; `reason` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Signer(Protocol):
    @property
    def alg(self) -> int: ...

    @property
    def kid(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes:
        """Raw r‖s signature (64 bytes) over `data`."""
        ...


@dataclass(frozen=True, slots=True)
class Claims:
    """The CWT claims of one 亮证 token; `ref` for online tokens, the rest for offline ones."""

    iss: str
    iat: int
    exp: int
    cti: bytes
    lt: str
    ref: bytes | None = None
    nm: str | None = None
    idn: str | None = None
    no: str | None = None
    vu: int | None = None
    si: int | None = None
    sl: str | None = None

    @property
    def online(self) -> bool:
        return self.ref is not None

    def to_cbor_map(self) -> dict[int, Any]:
        out: dict[int, Any] = {
            C_ISS: self.iss,
            C_IAT: self.iat,
            C_EXP: self.exp,
            C_CTI: self.cti,
            C_LT: self.lt,
        }
        if self.ref is not None:
            out[C_REF] = self.ref
        else:
            out[C_NM] = self.nm
            out[C_IDN] = self.idn
            out[C_NO] = self.no
            out[C_VU] = self.vu
            out[C_SI] = self.si
            out[C_SL] = self.sl
        return out


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1 whose signature has not been checked yet."""

    alg: int
    kid: bytes
    payload: bytes
    signature: bytes
    to_be_signed: bytes  # the Sig_structure bytes (RFC 9052 §4.4)


@dataclass(frozen=True, slots=True)
class DecodedToken:
    sign1: Sign1
    claims: Claims


@dataclass(frozen=True, slots=True)
class StatusListPayload:
    iss: str
    iat: int
    exp: int
    bits: int
    compressed: bytes


# -- encoding ------------------------------------------------------------------------------


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_sign1(payload: bytes, signer: Signer, prefix: str) -> str:
    protected = cbor2.dumps({H_ALG: signer.alg, H_KID: signer.kid})
    signature = signer.sign(sig_structure(protected, payload))
    cose = cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    # zlib only when it is shorter (spec §1): the small online token grows when compressed.
    packed = zlib.compress(cose, 9)
    return prefix + base45.encode(packed if len(packed) < len(cose) else cose)


def encode_token(claims: Claims, signer: Signer) -> str:
    return encode_sign1(cbor2.dumps(claims.to_cbor_map()), signer, TOKEN_PREFIX)


def encode_status_list(payload: StatusListPayload, signer: Signer) -> str:
    body = cbor2.dumps(
        {
            C_ISS: payload.iss,
            C_IAT: payload.iat,
            C_EXP: payload.exp,
            S_BITS: payload.bits,
            S_LIST: payload.compressed,
        }
    )
    return encode_sign1(body, signer, STATUS_PREFIX)


# -- decoding ------------------------------------------------------------------------------


def _cbor(data: bytes, what: str) -> Any:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            stream, max_depth=8, allow_duplicate_keys=False, allow_indefinite=False
        ).decode()
    except Exception as exc:  # cbor2 raises several types on hostile input; all mean MALFORMED
        raise MalformedTokenError(f"{what}: not CBOR") from exc
    if stream.tell() != len(data):
        raise MalformedTokenError(f"{what}: trailing bytes")
    return value


def _inflate(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise MalformedTokenError("zlib: corrupt") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise MalformedTokenError("zlib: too large, truncated or trailing data")
    return out


def decode_sign1(text: str, prefix: str, *, max_text: int = MAX_TEXT) -> Sign1:
    if not isinstance(text, str) or not text.startswith(prefix):
        raise MalformedTokenError("prefix")
    if len(text) > max_text:
        raise MalformedTokenError("too long")
    try:
        raw = base45.decode(text[len(prefix) :])
    except base45.Base45Error as exc:
        raise MalformedTokenError("base45") from exc
    if not raw:
        raise MalformedTokenError("empty")
    if raw[0] == _ZLIB_FIRST:
        raw = _inflate(raw, 8_192 if prefix == TOKEN_PREFIX else max_text)
    if not raw or raw[0] != _COSE_FIRST:
        raise MalformedTokenError("not a tagged COSE_Sign1")
    outer = _cbor(raw, "COSE")
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != _COSE_SIGN1_TAG:
        raise MalformedTokenError("not a tagged COSE_Sign1")
    parts = outer.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:
        raise MalformedTokenError("COSE_Sign1 must have 4 parts")
    protected, unprotected, payload, signature = parts
    if not (
        isinstance(protected, bytes)
        and isinstance(unprotected, Mapping)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise MalformedTokenError("COSE_Sign1 part types")
    if len(signature) != 64:
        raise MalformedTokenError("signature must be raw r||s, 64 bytes")
    header = _cbor(protected, "protected header")
    if not isinstance(header, Mapping):
        raise MalformedTokenError("protected header is not a map")
    alg, kid = header.get(H_ALG), header.get(H_KID)
    if alg not in (ALG_ES256, ALG_SM2_SM3) or type(alg) is not int:
        raise MalformedTokenError("alg")
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise MalformedTokenError("kid")
    return Sign1(alg, kid, payload, signature, sig_structure(protected, payload))


def _text(claims: Mapping[Any, Any], key: int, limit: int) -> str:
    value = claims.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise MalformedTokenError(f"claim {key}")
    return value


def _uint(claims: Mapping[Any, Any], key: int, limit: int = 2**40) -> int:
    value = claims.get(key)
    if type(value) is not int or not 0 <= value < limit:
        raise MalformedTokenError(f"claim {key}")
    return value


def _bstr(claims: Mapping[Any, Any], key: int, size: int) -> bytes:
    value = claims.get(key)
    if not isinstance(value, bytes) or len(value) != size:
        raise MalformedTokenError(f"claim {key}")
    return value


_ONLINE_KEYS = frozenset({C_ISS, C_IAT, C_EXP, C_CTI, C_LT, C_REF})
_OFFLINE_KEYS = frozenset({C_ISS, C_IAT, C_EXP, C_CTI, C_LT, C_NM, C_IDN, C_NO, C_VU, C_SI, C_SL})


def parse_claims(payload: bytes) -> Claims:
    claims = _cbor(payload, "claims")
    if not isinstance(claims, Mapping):
        raise MalformedTokenError("claims are not a map")
    keys = frozenset(claims)
    iss, iat, exp = _text(claims, C_ISS, 32), _uint(claims, C_IAT), _uint(claims, C_EXP)
    if not 0 < exp - iat <= MAX_LIFETIME:
        raise MalformedTokenError("lifetime")
    cti, lt = _bstr(claims, C_CTI, 8), _text(claims, C_LT, 32)
    if keys == _ONLINE_KEYS:
        return Claims(iss, iat, exp, cti, lt, ref=_bstr(claims, C_REF, 12))
    if keys == _OFFLINE_KEYS:
        vu = _uint(claims, C_VU, 100_000_000)
        if vu < 19_000_101:
            raise MalformedTokenError("valid-until")
        return Claims(
            iss,
            iat,
            exp,
            cti,
            lt,
            nm=_text(claims, C_NM, 64),
            idn=_text(claims, C_IDN, 64),
            no=_text(claims, C_NO, 64),
            vu=vu,
            si=_uint(claims, C_SI, 2**32),
            sl=_text(claims, C_SL, 64),
        )
    raise MalformedTokenError("claim set is neither an online nor an offline token")


def decode_token(text: str) -> DecodedToken:
    """Step 1 of spec §6; raises `MalformedTokenError` and nothing else."""
    sign1 = decode_sign1(text, TOKEN_PREFIX)
    return DecodedToken(sign1, parse_claims(sign1.payload))


def decode_status_list(text: str) -> tuple[Sign1, StatusListPayload]:
    sign1 = decode_sign1(text, STATUS_PREFIX, max_text=MAX_STATUS_TEXT)
    body = _cbor(sign1.payload, "status list")
    if not isinstance(body, Mapping):
        raise MalformedTokenError("status list is not a map")
    bits = _uint(body, S_BITS, 9)
    compressed = body.get(S_LIST)
    if bits != 2 or not isinstance(compressed, bytes):
        raise MalformedTokenError("status list fields")
    payload = StatusListPayload(
        _text(body, C_ISS, 32), _uint(body, C_IAT), _uint(body, C_EXP), bits, compressed
    )
    return sign1, payload
