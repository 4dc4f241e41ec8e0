"""A structural check of uploaded PDFs, without a PDF library.

A scanned certificate is a plain PDF: a `%PDF-1.x` header at byte 0, objects, a cross-reference
table or stream, `startxref` pointing at it, and `%%EOF` at the end. We refuse anything else:
leading bytes (a ZIP or HTML file that is also a PDF), data after the last `%%EOF` (an appended
archive), a `startxref` that points nowhere. We also refuse what a material never needs and an
attacker loves: JavaScript and actions that run on opening, embedded or attached files, rich
media, XFA forms, and encryption (a clerk must be able to read it, and we could not inspect it).

Names may be written with `#xx` escapes (`/J#61vaScript`) and objects may hide inside compressed
object streams, so names are unescaped and `/ObjStm` streams are inflated (bounded) before the
scan. The remaining risk — a reader bug triggered by a malformed content stream — is a reader's
problem: clerks open materials in a sandboxed viewer (docs/applications.md).
"""

from __future__ import annotations

import re
import zlib

from applications.uploads.errors import refuse

MAX_INFLATED = 8 * 1024 * 1024  # per object stream: a bomb inside a PDF stops here
MAX_OBJECT_STREAMS = 200

_HEADER = re.compile(rb"%PDF-[12]\.\d")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_FORBIDDEN = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|Encrypt|OpenAction|AA|SubmitForm|"
    rb"ImportData|GoToE|Sound|Movie)(?![A-Za-z0-9])"
)
_OBJSTM = re.compile(
    rb"<<(?:(?!>>\s*stream).){0,2000}?/Type\s*/ObjStm(?:(?!>>\s*stream).){0,2000}?>>\s*stream\r?\n",
    re.DOTALL,
)


def check(data: bytes) -> None:
    if not _HEADER.match(data):
        refuse("CORRUPT_FILE", "PDF 文件头无效 (bad PDF header)")
    # Only whitespace may follow the final %%EOF (anything else is an appended payload).
    tail = data[-1024:]
    found = _STARTXREF.search(tail)
    if found is None:
        refuse("CORRUPT_FILE", "PDF 文件不完整 (no startxref / %%EOF at the end)")
    offset = int(found.group(1))
    if not 0 < offset < len(data):
        refuse("CORRUPT_FILE", "PDF 交叉引用位置无效 (startxref out of range)")
    target = data[offset : offset + 64]
    if not (target.startswith(b"xref") or re.match(rb"\d+\s+\d+\s+obj", target)):
        refuse("CORRUPT_FILE", "PDF 交叉引用表无效 (startxref points nowhere)")
    if target.startswith(b"xref") and b"trailer" not in data[offset:]:
        refuse("CORRUPT_FILE", "PDF 缺少 trailer (no trailer)")
    _scan(data)
    for chunk in _object_streams(data):
        _scan(chunk)


def _scan(chunk: bytes) -> None:
    names = _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), chunk)
    hit = _FORBIDDEN.search(names)
    if hit is not None:
        what = hit.group(1).decode()
        refuse(
            "PDF_ACTIVE_CONTENT",
            f"PDF 含有不允许的内容（{what}）：请打印为普通 PDF 后再上传 (active content)",
        )


def _object_streams(data: bytes) -> list[bytes]:
    """The inflated contents of compressed object streams (where objects can hide)."""
    found: list[bytes] = []
    for match in _OBJSTM.finditer(data):
        if len(found) >= MAX_OBJECT_STREAMS:
            refuse("CORRUPT_FILE", "PDF 结构过于复杂 (too many object streams)")
        start = match.end()
        end = data.find(b"endstream", start)
        if end < 0:
            refuse("CORRUPT_FILE", "PDF 数据流不完整 (unterminated stream)")
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data[start:end], MAX_INFLATED)
        except zlib.error:
            refuse("CORRUPT_FILE", "PDF 数据流损坏 (bad compressed stream)")
        if inflater.unconsumed_tail:
            refuse("CORRUPT_FILE", "PDF 数据流过大 (object stream too large)")
        found.append(out)
    return found
