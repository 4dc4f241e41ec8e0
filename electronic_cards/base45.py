"""Base45 (RFC 9285), table-driven: the QR alphanumeric alphabet, three characters per 2 bytes.

Vendored (the `base45` package is unmaintained since 2022) and built for speed: encoding looks
up each 16-bit chunk in a precomputed table, decoding translates characters to digits with one
`bytes.translate` call, so neither loops over characters in Python.
"""

from __future__ import annotations

import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF


class Base45Error(ValueError):
    """The text is not valid Base45."""


_SINGLES: list[str] = [ALPHABET[n % 45] + ALPHABET[n // 45] for n in range(256)]
_DIGITS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else _INVALID for c in range(256))
# Every 16-bit value as its three characters: one list lookup per group. (Lane arithmetic like
# `decode` uses was measured slower here for encoding: it needs two divisions per lane.)
_TRIPLES: list[str] = [
    ALPHABET[n % 45] + ALPHABET[(n // 45) % 45] + ALPHABET[n // 2025] for n in range(65536)
]


def encode(data: bytes) -> str:
    pairs = len(data) // 2
    out = "".join(map(_TRIPLES.__getitem__, struct.unpack(f">{pairs}H", data[: pairs * 2])))
    if len(data) % 2:
        out += _SINGLES[data[-1]]
    return out


def decode(text: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise Base45Error("non-ASCII character") from exc
    digits = raw.translate(_DIGITS)
    if _INVALID in digits:
        raise Base45Error("character outside the Base45 alphabet")
    full, rest = divmod(len(digits), 3)
    if rest == 1:
        raise Base45Error("dangling character")
    # Lane arithmetic instead of a loop: each group's three digits go into the low byte of
    # its own 32-bit lane of three big integers; a + 45b + 2025c then computes every group at
    # once (at most 91,124, so no lane carries into the next).
    lanes = []
    for j in range(3):
        wide = bytearray(4 * full)
        wide[3::4] = digits[j : full * 3 : 3]
        lanes.append(int.from_bytes(wide, "big"))
    total = (lanes[0] + 45 * lanes[1] + 2025 * lanes[2]).to_bytes(4 * full, "big")
    if any(total[1::4]):
        raise Base45Error("chunk out of range")
    decoded = bytearray(2 * full)
    decoded[0::2] = total[2::4]
    decoded[1::2] = total[3::4]
    out = bytes(decoded)
    if rest == 2:
        last = digits[-2] + digits[-1] * 45
        if last > 0xFF:
            raise Base45Error("chunk out of range")
        out += bytes((last,))
    return out
