"""QR PNG rendering for 亮证, fast enough to do on the server when a client asks for a picture.

qrcode's default path (`make()` + `make_image()` + save) spends its time in Python loops: it
places every module eight times to score the masks, scores them module by module, and draws
each dark module as a rectangle. Here qrcode still supplies the standard's tables and the
function patterns (finder, alignment, timing, format and version information); what changes is
the arithmetic:

- the function-pattern template and the zigzag order of data modules are built once per
  version and cached;
- Reed–Solomon runs as a byte-table LFSR on Python ints;
- the whole matrix is one big integer (one bit per module, row-major), so the eight masks are
  eight XORs, and the four penalty rules of ISO/IEC 18004 §7.8.3 are a few dozen shifts, ANDs
  and popcounts on that integer instead of loops over modules;
- the chosen matrix goes straight into the scanlines of a 1-bit PNG (no per-module drawing),
  each module row widened once and repeated.

Error-correction level M, alphanumeric mode for SDL1 text (byte mode for anything else).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

import qrcode
from qrcode import LUT, util
from qrcode.base import EXP_TABLE, LOG_TABLE, rs_blocks
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of light border the standard asks for
_ALNUM = util.ALPHA_NUM.decode() if isinstance(util.ALPHA_NUM, bytes) else str(util.ALPHA_NUM)
_ALNUM_VALUE = {c: i for i, c in enumerate(_ALNUM)}
_BITS8 = [format(i, "08b").encode() for i in range(256)]
_PAD = (util.PAD0, util.PAD1)


class TooLongError(ValueError):
    """The text does not fit a version 40 QR at level M."""


# -- data codewords ------------------------------------------------------------------------


def _count_bits(alnum: bool, version: int) -> int:
    if version <= 9:
        return 9 if alnum else 8
    if version <= 26:
        return 11 if alnum else 16
    return 13 if alnum else 16


def _payload_bits(text: str) -> tuple[bool, str, int]:
    """(alphanumeric?, the data bits, character count) for `text`."""
    if all(c in _ALNUM_VALUE for c in text):
        values = [_ALNUM_VALUE[c] for c in text]
        pairs = [
            format(a * 45 + b, "011b") for a, b in zip(values[0::2], values[1::2], strict=False)
        ]
        if len(values) % 2:
            pairs.append(format(values[-1], "06b"))
        return True, "".join(pairs), len(text)
    raw = text.encode("utf-8")
    return False, b"".join(_BITS8[b] for b in raw).decode(), len(raw)


@cache
def _data_capacity(version: int) -> int:
    return sum(b.data_count for b in rs_blocks(version, ERROR_CORRECT_M))


def _choose_version(alnum: bool, data_bits: int) -> int:
    for version in range(1, 41):
        needed = 4 + _count_bits(alnum, version) + data_bits
        if needed <= _data_capacity(version) * 8:
            return version
    raise TooLongError("text too long for a QR code at level M")


@cache
def _rs_table(ecc: int) -> tuple[list[int], int]:
    """For each feedback byte, the generator's lower terms times it, as one integer."""
    generator = LUT.rsPoly_LUT[ecc]  # monic, highest degree first
    table = []
    for coef in range(256):
        value = 0
        for g in generator[1:]:
            product = (
                0 if coef == 0 or g == 0 else EXP_TABLE[(LOG_TABLE[coef] + LOG_TABLE[g]) % 255]
            )
            value = (value << 8) | product
        table.append(value)
    return table, (1 << (8 * ecc)) - 1


def _rs_remainder(data: bytes, ecc: int) -> bytes:
    table, mask = _rs_table(ecc)
    shift = 8 * (ecc - 1)
    remainder = 0
    for byte in data:
        feedback = (remainder >> shift) ^ byte
        remainder = ((remainder << 8) & mask) ^ table[feedback]
    return remainder.to_bytes(ecc, "big")


def codewords(text: str) -> tuple[int, bytes]:
    """(version, the final interleaved codeword sequence) for `text` at level M."""
    alnum, bits, count = _payload_bits(text)
    version = _choose_version(alnum, len(bits))
    capacity = _data_capacity(version) * 8
    stream = ("0010" if alnum else "0100") + format(count, f"0{_count_bits(alnum, version)}b")
    stream += bits
    stream += "0" * min(4, capacity - len(stream))  # terminator
    stream += "0" * (-len(stream) % 8)
    data = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    data += bytes(_PAD[i % 2] for i in range(capacity // 8 - len(data)))
    blocks, offset = [], 0
    for block in rs_blocks(version, ERROR_CORRECT_M):
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        blocks.append((chunk, _rs_remainder(chunk, block.total_count - block.data_count)))
    out = bytearray()
    for i in range(max(len(d) for d, _ in blocks)):
        out.extend(d[i] for d, _ in blocks if i < len(d))
    for i in range(max(len(e) for _, e in blocks)):
        out.extend(e[i] for _, e in blocks if i < len(e))
    return version, bytes(out)


# -- the matrix as one integer -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """Everything about a version that does not depend on the data."""

    size: int  # modules per side
    gather: itemgetter[Any]  # flat module index -> position in (data bits + b"0")
    data_length: int  # data modules (codeword bits + remainder bits)
    function: tuple[int, ...]  # per mask: dark function modules incl. format/version info
    mask: tuple[int, ...]  # per mask: which data modules the mask flips
    h1: int  # modules with a left neighbour in the same row
    v1: int  # modules with a neighbour above
    h10: int  # modules with 10 modules to their left in the same row
    v10: int  # modules with 10 modules above them


def _to_int(cells: list[bool], n: int) -> int:
    return int("".join("1" if c else "0" for c in cells), 2) if cells else 0


@cache
def _layout(version: int) -> _Layout:
    qr = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_M)
    n = qr.modules_count = version * 4 + 17
    qr.modules = [[None] * n for _ in range(n)]
    qr.setup_position_probe_pattern(0, 0)
    qr.setup_position_probe_pattern(n - 7, 0)
    qr.setup_position_probe_pattern(0, n - 7)
    qr.setup_position_adjust_pattern()
    qr.setup_timing_pattern()
    qr.setup_type_info(True, 0)  # reserve the format-information modules
    if version >= 7:
        qr.setup_type_number(False)
    reserved = [[cell is not None for cell in row] for row in qr.modules]
    base = [list(row) for row in qr.modules]

    order: list[tuple[int, int]] = []  # the zigzag of ISO/IEC 18004 §7.7.3
    row, step = n - 1, -1
    col = n - 1
    while col > 0:
        if col == 6:
            col -= 1
        while 0 <= row < n:
            for c in (col, col - 1):
                if not reserved[row][c]:
                    order.append((row, c))
            row += step
        row -= step
        step = -step
        col -= 2
    position = {rc: i for i, rc in enumerate(order)}
    filler = len(order)
    gather = itemgetter(*[position.get((r, c), filler) for r in range(n) for c in range(n)])

    functions, masks = [], []
    for pattern in range(8):
        qr.modules = [list(row) for row in base]
        qr.setup_type_info(False, pattern)
        functions.append(_to_int([bool(cell) for row in qr.modules for cell in row], n))
        flips = util.mask_func(pattern)
        masks.append(
            _to_int([(not reserved[r][c]) and flips(r, c) for r in range(n) for c in range(n)], n)
        )
    cells = [(r, c) for r in range(n) for c in range(n)]
    return _Layout(
        size=n,
        gather=gather,
        data_length=len(order),
        function=tuple(functions),
        mask=tuple(masks),
        h1=_to_int([c >= 1 for r, c in cells], n),
        v1=_to_int([r >= 1 for r, c in cells], n),
        h10=_to_int([c >= 10 for r, c in cells], n),
        v10=_to_int([r >= 10 for r, c in cells], n),
    )


def _popcount(value: int) -> int:
    return value.bit_count()


def _runs(equal: int, step: int) -> int:
    """Rule 1 for one direction: each run of ≥5 like modules costs 3 + (length - 5)."""
    four = equal & (equal >> step) & (equal >> 2 * step) & (equal >> 3 * step)
    return _popcount(four) + 2 * _popcount(four & ~(four >> step))


_FINDER_LIKE = ("10111010000", "00001011101")


def _finder_like(matrix: int, inverse: int, step: int, valid: int) -> int:
    total = 0
    for pattern in _FINDER_LIKE:
        hit = valid
        for offset, bit in enumerate(reversed(pattern)):
            hit &= (matrix if bit == "1" else inverse) >> (offset * step)
            if not hit:
                break
        total += _popcount(hit)
    return total


def _penalty(matrix: int, layout: _Layout) -> int:
    n = layout.size
    full = (1 << (n * n)) - 1
    inverse = ~matrix & full
    same_h = ~(matrix ^ (matrix >> 1)) & layout.h1
    same_v = ~(matrix ^ (matrix >> n)) & layout.v1
    score = _runs(same_h, 1) + _runs(same_v, n)
    score += 3 * _popcount(same_h & (same_h >> n) & same_v)
    score += 40 * (
        _finder_like(matrix, inverse, 1, layout.h10) + _finder_like(matrix, inverse, n, layout.v10)
    )
    dark_percent = _popcount(matrix) * 100 // (n * n)
    score += 10 * (abs(dark_percent - 50) // 5)
    return score


def module_bits(text: str) -> tuple[int, str]:
    """(modules per side, row-major '0'/'1' string of the best-masked matrix)."""
    version, words = codewords(text)
    layout = _layout(version)
    n = layout.size
    bits = b"".join([_BITS8[w] for w in words])
    bits = bits[: layout.data_length].ljust(layout.data_length, b"0") + b"0"
    data = int(bytes(layout.gather(bits)), 2)
    best, best_score = 0, -1
    for pattern in range(8):
        candidate = (data ^ layout.mask[pattern]) | layout.function[pattern]
        score = _penalty(candidate, layout)
        if best_score < 0 or score < best_score:
            best, best_score = candidate, score
    return n, format(best, f"0{n * n}b")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INVERT = str.maketrans("01", "10")  # a dark module is a 0 bit in 1-bit grayscale


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _deflate(raw: bytes) -> bytes:
    # Level 1 finds the repeated scanlines (distance one row) at a fraction of level 6's time;
    # the PNG is about 2 KB either way.
    return zlib.compress(raw, 1)


def render_png(text: str, size: int = 300) -> bytes:
    """A 1-bit grayscale PNG of `text`'s QR code, at most `size` pixels wide (whole pixels
    per module, quiet zone included).

    The scanlines are written straight from the module bits: Pillow's PNG encoder alone takes
    about 2 ms for a 570-pixel 1-bit image here, several times the cost of everything else.
    """
    n, bits = module_bits(text)
    side = n + 2 * QUIET_ZONE
    scale = max(1, size // side)
    width = side * scale
    widen = {ord("0"): "0" * scale, ord("1"): "1" * scale}
    pad = "1" * (-width % 8)
    blank = b"\x00" + int("1" * width + pad, 2).to_bytes((width + 7) // 8, "big")
    quiet = blank * (QUIET_ZONE * scale)
    rows = [quiet]
    margin = "1" * QUIET_ZONE * scale
    for r in range(n):
        line = margin + bits[r * n : (r + 1) * n].translate(_INVERT).translate(widen) + margin
        scanline = b"\x00" + int(line + pad, 2).to_bytes((width + 7) // 8, "big")
        rows.append(scanline * scale)
    rows.append(quiet)
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", _deflate(b"".join(rows)))
        + _chunk(b"IEND", b"")
    )
