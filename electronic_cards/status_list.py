"""Status lists (spec §5): a 2-bit-per-entry array, zlib-compressed, signed as SDLS1.

Entry `i` is the 2-bit value at bits 2i..2i+1, least significant first: entry 0 lives in the
low two bits of byte 0, entry 3 in its high two bits.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from electronic_cards.models import LicenceStatus

BITS = 2
STATUS_VALUE = {
    LicenceStatus.VALID: 0,
    LicenceStatus.REVOKED: 1,
    LicenceStatus.SUSPENDED: 2,
}
VALUE_STATUS = {v: k for k, v in STATUS_VALUE.items()}


def build(entries: Iterable[tuple[int, LicenceStatus]], size: int) -> bytes:
    """The uncompressed array of `size` entries; unlisted entries are 0 (valid)."""
    array = bytearray(size * BITS // 8)
    for index, status in entries:
        byte, slot = divmod(index, 4)
        array[byte] |= STATUS_VALUE[status] << (slot * 2)
    return bytes(array)


def compress(array: bytes) -> bytes:
    return zlib.compress(array, 9)


def value_at(array: bytes, index: int) -> int:
    """The 2-bit value of entry `index` (3 = reserved)."""
    byte, slot = divmod(index, 4)
    if byte >= len(array):
        raise IndexError(index)
    return (array[byte] >> (slot * 2)) & 0b11
