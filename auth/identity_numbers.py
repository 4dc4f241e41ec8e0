"""居民身份证 numbers: GB 11643 validation, AES-GCM encryption at rest, HMAC blind index.

The plain number never reaches the database or a log; lookups go through the blind index.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from app import sealing
from auth.errors import InvalidIdNumberError

_PHONE = re.compile(r"^1[3-9]\d{9}$")


def normalize_id_number(value: str, *, field: str = "idNumber") -> str:
    """The canonical 18-character form (upper-case X), or `InvalidIdNumberError`."""
    # Not `ric.validate`: it also requires the region code to have existed in the birth year,
    # but people keep the code of where they were registered when numbers were issued (1999),
    # so it rejects real numbers of everyone born before their district was created.
    if not isinstance(value, str) or len(value) > 32:
        raise InvalidIdNumberError(field)
    number = ric.compact(value).upper()
    # The 15-digit first-generation form was retired in 2013: 18 characters only.
    if len(number) != 18 or not number[:17].isdigit():
        raise InvalidIdNumberError(field)
    try:
        born = ric.get_birth_date(number)
        known_region = bool(numdb.get("cn/loc").info(number[:6])[-1][1])
    except (ValidationError, ValueError, IndexError) as exc:
        raise InvalidIdNumberError(field) from exc
    if number[-1] != ric.calc_check_digit(number) or not known_region or born > date.today():
        raise InvalidIdNumberError(field)
    return number


def birth_date_of(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def with_check_digit(first17: str) -> str:
    """Complete a 17-digit prefix (for generating valid fictitious demo numbers)."""
    return first17 + str(ric.calc_check_digit(first17 + "0"))  # it expects a placeholder


PURPOSE = "identity-number"


def encrypt(key: bytes, number: str) -> bytes:
    return sealing.encrypt(key, number, PURPOSE)


def decrypt(key: bytes, blob: bytes) -> str:
    return sealing.decrypt(key, blob, PURPOSE)


def blind_index(key: bytes, number: str) -> str:
    return sealing.blind_index(key, number)


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """Mainland mobile numbers, with an optional +86/86 prefix and separators removed."""
    from auth.errors import InvalidPhoneError

    if not isinstance(value, str) or len(value) > 20:
        raise InvalidPhoneError(field)
    digits = re.sub(r"[\s-]", "", value)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix) :]
            break
    if not _PHONE.match(digits):
        raise InvalidPhoneError(field)
    return digits
