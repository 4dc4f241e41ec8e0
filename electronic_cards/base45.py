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


# Every 16-bit value as its three Base45 characters (least significant digit first).
_PAIRS: list[str] = [
    ALPHABET[n % 45] + ALPHABET[(n // 45) % 45] + ALPHABET[n // 2025] for n in range(65536)
]
_SINGLES: list[str] = [ALPHABET[n % 45] + ALPHABET[n // 45] for n in range(256)]
_DIGITS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else _INVALID for c in range(256))


def encode(data: bytes) -> str:
    pairs = len(data) // 2
    out = "".join([_PAIRS[v] for v in struct.unpack(f">{pairs}H", data[: pairs * 2])])
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
    values = [
        a + b * 45 + c * 2025
        for a, b, c in zip(
            digits[0 : full * 3 : 3],
            digits[1 : full * 3 : 3],
            digits[2 : full * 3 : 3],
            strict=True,
        )
    ]
    if values and max(values) > 0xFFFF:
        raise Base45Error("chunk out of range")
    out = struct.pack(f">{full}H", *values)
    if rest == 2:
        last = digits[-2] + digits[-1] * 45
        if last > 0xFF:
            raise Base45Error("chunk out of range")
        out += bytes((last,))
    return out
