"""The SDL1 wire format (shared/specs/sdl1-qr.md): COSE_Sign1 over CWT claims, Base45 text.

Pure functions, no I/O. Decoding never trusts its input: every failure of prefix, length,
Base45, zlib, CBOR or COSE structure becomes `MalformedTokenError` and nothing else, so the
verifier can map it to `MALFORMED` (spec §6 step 1). Signature checks live with the keys
(`keys.py`); this module only produces the bytes that were signed.
"""

from __future__ import annotations

import struct
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


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a few µs per token minted
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


@dataclass(slots=True)  # not frozen, like Claims: built once per verification, never mutated
class Sign1:
    """A decoded COSE_Sign1 whose signature has not been checked yet."""

    alg: int
    kid: bytes
    payload: bytes
    signature: bytes
    to_be_signed: bytes  # the Sig_structure bytes (RFC 9052 §4.4)


@dataclass(slots=True)
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


# The fixed parts of the two structures, written out once. Hand-assembling them (rather than
# three cbor2.dumps calls per token) is the same canonical CBOR at a fraction of the cost; the
# tests check it against cbor2 and against a verifier written from the spec.
_SIG1_HEAD = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"
_COSE_HEAD = b"\xd2\x84"  # tag(18), array(4)
_EMPTY_MAP = b"\xa0"
_EMPTY_BSTR = b"\x40"


_SHORT_HEADS = [bytes((0x40 | n,)) if n < 24 else bytes((0x58, n)) for n in range(256)]


def _bstr_head(length: int) -> bytes:
    if length < 0x100:
        return _SHORT_HEADS[length]
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


def _bytes_item(data: bytes) -> bytes:
    return _bstr_head(len(data)) + data


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4 `["Signature1", protected, h'', payload]`, CBOR-encoded."""
    return _SIG1_HEAD + _bytes_item(protected) + _EMPTY_BSTR + _bytes_item(payload)


_PROTECTED: dict[tuple[int, bytes], bytes] = {}
_SIGNATURE_HEAD = b"\x58\x40"  # bstr(64)


def _protected(signer: Signer) -> bytes:
    key = (signer.alg, signer.kid)
    header = _PROTECTED.get(key)
    if header is None:
        header = _PROTECTED[key] = cbor2.dumps({H_ALG: signer.alg, H_KID: signer.kid})
    return header


def _deflate(data: bytes) -> bytes:
    # Window 32 KiB (wbits 15) so the stream starts with 0x78 as spec §1 says; memLevel 1
    # because the input is a few hundred bytes and a small hash table halves the set-up cost.
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 1)
    return packer.compress(data) + packer.flush()


def encode_sign1(payload: bytes, signer: Signer, prefix: str, *, try_zlib: bool = True) -> str:
    protected = _protected(signer)
    signature = signer.sign(sig_structure(protected, payload))
    cose = b"".join(
        (
            _COSE_HEAD,
            _bstr_head(len(protected)),
            protected,
            _EMPTY_MAP,
            _bstr_head(len(payload)),
            payload,
            _SIGNATURE_HEAD,
            signature,
        )
    )
    # zlib only when it is shorter (spec §1). The caller may skip the attempt when it cannot
    # succeed: compressing costs a third of an ES256 signature.
    if try_zlib:
        packed = _deflate(cose)
        if len(packed) < len(cose):
            return prefix + base45.encode(packed)
    return prefix + base45.encode(cose)


# The online claim map has one shape: {1: text, 6: uint32, 4: uint32, 7: bstr(8),
# -70010: text(2), -70011: bstr(12)}. Packing it with one precompiled struct is the same CBOR
# that cbor2 writes (a test compares them) at a fifth of the cost of building a dict and
# encoding it; anything of another shape goes through cbor2.
_ONLINE_TAIL = struct.Struct(">BBIBBIBB8s5sB2s5sB12s")
_KEY_LT = cbor2.dumps(C_LT)
_KEY_REF = cbor2.dumps(C_REF)
_ES256_HEADER_START = b"\xa2\x01\x26\x04\x48"  # map(2) 1: -7, 4: bstr(8)


def _online_claims(claims: Claims) -> bytes | None:
    iss = claims.iss.encode()
    if not (
        len(iss) < 24
        and 2**16 <= claims.iat < 2**32  # where a uint32 head is the shortest form, as
        and 2**16 <= claims.exp < 2**32  # canonical CBOR wants (every real Unix time)
        and len(claims.cti) == 8
        and len(claims.lt) == 2
        and claims.lt.isascii()
        and claims.ref is not None
        and len(claims.ref) == 12
    ):
        return None
    return (
        bytes((0xA6, C_ISS, 0x60 | len(iss)))
        + iss
        + _ONLINE_TAIL.pack(
            C_IAT,
            0x1A,
            claims.iat,
            C_EXP,
            0x1A,
            claims.exp,
            C_CTI,
            0x48,
            claims.cti,
            _KEY_LT,
            0x62,
            claims.lt.encode(),
            _KEY_REF,
            0x4C,
            claims.ref,
        )
    )


def encode_token(claims: Claims, signer: Signer) -> str:
    # An online token is 142 bytes of which 92 are random (cti, handle, kid, signature) and
    # the rest has nothing to repeat: zlib makes it longer every time (the tests measure the
    # margin over thousands of tokens), so it is not attempted. Offline tokens try it.
    payload = _online_claims(claims) if claims.online else None
    if payload is None:
        payload = cbor2.dumps(claims.to_cbor_map())
    return encode_sign1(payload, signer, TOKEN_PREFIX, try_zlib=not claims.online)


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
    """One CBOR item. Trailing bytes are not looked for here: inside the signed parts only the
    key holder could put them, and the outer structure's length is checked exactly."""
    try:
        return cbor2.loads(data, max_depth=8, allow_duplicate_keys=False, allow_indefinite=False)
    except Exception as exc:  # cbor2 raises several types on hostile input; all mean MALFORMED
        raise MalformedTokenError(f"{what}: not CBOR") from exc


def _inflate(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise MalformedTokenError("zlib: corrupt") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise MalformedTokenError("zlib: too large, truncated or trailing data")
    return out


def _read_bstr(raw: bytes, at: int) -> tuple[bytes, int]:
    """The byte string whose head is at `at`, and the position after it."""
    if at >= len(raw) or raw[at] >> 5 != 2:
        raise MalformedTokenError("expected a byte string")
    info = raw[at] & 0x1F
    if info < 24:
        length, start = info, at + 1
    elif info == 24 and at + 1 < len(raw) and raw[at + 1] >= 24:
        length, start = raw[at + 1], at + 2
    elif info == 25 and at + 2 < len(raw) and int.from_bytes(raw[at + 1 : at + 3]) >= 0x100:
        length, start = int.from_bytes(raw[at + 1 : at + 3]), at + 3
    else:
        raise MalformedTokenError("byte string length not in shortest form, or too long")
    end = start + length
    if end > len(raw):
        raise MalformedTokenError("truncated")
    return raw[start:end], end


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
    # The outer structure is read by hand: it is fixed (tag 18, four items, empty
    # unprotected map) and must use shortest-form lengths, as every CBOR encoder writes by
    # default, which also rules out trailing bytes outside the signature's reach.
    if raw[:2] != _COSE_HEAD:
        raise MalformedTokenError("not a tagged four-item COSE_Sign1")
    protected, at = _read_bstr(raw, 2)
    if raw[at : at + 1] != _EMPTY_MAP:
        raise MalformedTokenError("unprotected header must be an empty map")
    payload, at = _read_bstr(raw, at + 1)
    signature, at = _read_bstr(raw, at)
    if at != len(raw):
        raise MalformedTokenError("trailing bytes")
    if len(signature) != 64:
        raise MalformedTokenError("signature must be raw r||s, 64 bytes")
    if len(protected) == 14 and protected[:5] == _ES256_HEADER_START:
        # {1: -7, 4: h'<8 bytes>'} as every ES256 token of ours carries it: no decoder needed.
        return Sign1(
            ALG_ES256, protected[5:], payload, signature, sig_structure(protected, payload)
        )
    header = _cbor(protected, "protected header")
    if type(header) is not dict:
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


def _packed_online(payload: bytes) -> Claims | None:
    """The inverse of `_online_claims` for payloads in exactly that layout, else None."""
    if len(payload) < 4 or payload[:2] != b"\xa6\x01" or not 0x60 <= payload[2] < 0x78:
        return None
    start = 3 + (payload[2] & 0x1F)
    if len(payload) != start + _ONLINE_TAIL.size:
        return None
    fields = _ONLINE_TAIL.unpack_from(payload, start)
    if fields[:2] != (C_IAT, 0x1A) or fields[3:5] != (C_EXP, 0x1A) or fields[6:8] != (C_CTI, 0x48):
        return None
    if fields[9:11] != (_KEY_LT, 0x62) or fields[12:14] != (_KEY_REF, 0x4C):
        return None
    iat, exp = fields[2], fields[5]
    if iat < 2**16 or exp < 2**16:
        return None  # not the shortest form: let the general path judge it
    try:
        iss, lt = payload[3:start].decode(), fields[11].decode()
    except UnicodeDecodeError as exc:
        raise MalformedTokenError("claim text is not UTF-8") from exc
    if not iss or not lt or not 0 < exp - iat <= MAX_LIFETIME:
        raise MalformedTokenError("claims")
    return Claims(iss, iat, exp, fields[8], lt, ref=fields[14])


def parse_claims(payload: bytes) -> Claims:
    return _packed_online(payload) or parse_claims_cbor(payload)


def parse_claims_cbor(payload: bytes) -> Claims:
    """The general path: any CBOR map, checked claim by claim."""
    claims = _cbor(payload, "claims")
    if type(claims) is not dict:
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
