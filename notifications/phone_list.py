"""An operator's list of mobile numbers (pasted or uploaded CSV/text) as a campaign target.

The list arrives as one GraphQL string (`CampaignTargetInput.phoneList`): no upload endpoint,
no file kept. It is parsed, checked row by row and turned into the phones of the target, which
the campaign service replaces with their blind indexes before anything is stored, so numbers are
never kept in clear. A list with any bad row is refused as a whole, with the rows named: an
operator fixes the file rather than sending to a silently shortened audience.

Accepted: one number per line, or CSV/TSV whose first column is the number; an optional header
row; blank lines; spaces and hyphens inside a number; a +86 / 86 / 0086 prefix. Duplicates
count once.
"""

from __future__ import annotations

import re

from notifications.errors import InvalidTargetError

MAX_LIST_BYTES = 256 * 1024  # about 20,000 rows of "13912345678,name"
MAX_ROWS = 20_000
REPORTED_ROWS = 20  # bad rows named in the error; the total is always given
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[,\t;]")
_NOISE = re.compile(r"[\s\-()]")
_HEADER = re.compile(r"^[^\d]*$")  # a first row without digits: 手机号, phone, mobile …


def parse_phone_list(text: str) -> tuple[str, ...]:
    """The distinct numbers of the list, in first-seen order; InvalidTargetError otherwise."""
    if len(text.encode()) > MAX_LIST_BYTES:
        raise InvalidTargetError(
            f"号码名单不能超过 {MAX_LIST_BYTES // 1024} KB (list too large)",
            field="target.phoneList",
        )
    rows = text.lstrip("\ufeff").splitlines()  # a UTF-8 BOM from Excel is not a header
    if len(rows) > MAX_ROWS:
        raise InvalidTargetError(
            f"号码名单不能超过 {MAX_ROWS} 行 (too many rows)", field="target.phoneList"
        )
    phones: dict[str, None] = {}
    bad: list[int] = []
    for number, row in enumerate(rows, start=1):
        cell = _SEPARATORS.split(row, maxsplit=1)[0]
        phone = _NOISE.sub("", cell).strip('"')
        if not phone:
            continue
        if number == 1 and _HEADER.match(phone):
            continue
        for prefix in ("+86", "0086", "86"):
            if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
                phone = phone[len(prefix) :]
        if _PHONE.match(phone):
            phones[phone] = None
        else:
            bad.append(number)
    if bad:
        named = "、".join(str(n) for n in bad[:REPORTED_ROWS])
        more = " 等" if len(bad) > REPORTED_ROWS else ""
        raise InvalidTargetError(
            f"号码名单第 {named}{more} 行无效，共 {len(bad)} 行 (invalid rows: {len(bad)})",
            field="target.phoneList",
        )
    if not phones:
        raise InvalidTargetError("号码名单为空 (the list has no numbers)", field="target.phoneList")
    return tuple(phones)
