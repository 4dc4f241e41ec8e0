"""结果送达: how a paper result reaches the applicant, chosen at submission.

`resultDelivery: {method, address}` — ELECTRONIC (no paper), POST (posted, tracked) or PICKUP
(collected at the hall), only among the methods the matter's guide offers
(`Matter.delivery_methods`, catalogue field 结果送达方式). Without a choice the case gets the
first offered method that needs no address (ELECTRONIC, else PICKUP).

POST needs an address. It is personal data: the recipient's name, phone and street line are
sealed together (AES-GCM, key `delivery_address`, purpose `delivery-address`); the case keeps
only that blob, the county-level region code (where it goes, needed for routing) and a masked
copy for display. Every API response shows the masked copy; the full address is decrypted only
for the holder's own export (exportMyData).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bson import Binary

from app import sealing
from app.db import Document
from app.errors import DomainError
from app.keyring import Keyring
from app.masking import mask_name, mask_phone
from auth.errors import InvalidPhoneError
from auth.identity_numbers import normalize_phone
from matters.models import Matter, ResultDelivery

PURPOSE = "delivery-address"
MAX_NAME = 30
MIN_LINE, MAX_LINE = 5, 120
# Province-level prefixes of GB/T 2260 行政区划代码 (mainland, Hong Kong, Macao, Taiwan).
_PROVINCE_CODES = "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54"
_PROVINCES = frozenset(f"{_PROVINCE_CODES} 61 62 63 64 65 71 81 82".split(" "))
_REGION = re.compile(r"^\d{6}$")
FIELD = "resultDelivery"


def _error(path: str, code: str, message: str) -> DomainError:
    return DomainError(message, code=code, field=f"{FIELD}.{path}")


def _text(value: Any) -> str | None:
    """Trimmed NFC text, or None when not a string; control/format characters make it invalid."""
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFC", value).strip()


def _printable(text: str) -> bool:
    return all(unicodedata.category(c)[0] != "C" for c in text)


def mask_line(line: str) -> str:
    """`市南区香港中路10号3单元501` → `市南区香港中****`: enough to recognise, not to find."""
    keep = min(6, len(line) // 2)
    return line[:keep] + "****"


@dataclass
class DeliveryRequest:
    """The raw `resultDelivery` input of a submission; `check` validates it against the matter
    and leaves the document to store in `document` (None when there were errors)."""

    raw: Any
    document: Document | None = None
    errors: list[DomainError] = field(default_factory=list)
    # A choice already checked and sealed (a 一件事 member, `member_choice`): used as it is.
    checked: Document | None = None

    def check(self, matter: Matter, keyring: Keyring) -> list[DomainError]:
        if self.checked is not None:
            self.document, self.errors = self.checked, []
            return []
        self.document, self.errors = checked_choice(matter, self.raw, keyring)
        return self.errors


def checked_choice(
    matter: Matter, raw: Any, keyring: Keyring
) -> tuple[Document | None, list[DomainError]]:
    """The case's `delivery` document for this choice, or every problem with it."""
    offered = matter.delivery_methods
    if raw is None:
        default = next((m for m in offered if m is not ResultDelivery.POST), None)
        if default is None:  # the guide offers posting only: an address is required
            return None, [_error("address", "ADDRESS_REQUIRED", "请填写邮寄地址")]
        return {"method": default.name}, []
    if not isinstance(raw, dict):
        return None, [DomainError("送达方式格式不正确", code="INVALID_TYPE", field=FIELD)]
    name = raw.get("method")
    method = ResultDelivery.__members__.get(name) if isinstance(name, str) else None
    if method is None or method not in offered:
        allowed = "、".join(m.value for m in offered)
        return None, [
            _error("method", "DELIVERY_METHOD_NOT_OFFERED", f"该事项的结果送达方式只有：{allowed}")
        ]
    if method is not ResultDelivery.POST:
        # Data minimisation: an address sent with another method is not kept.
        return {"method": method.name}, []
    address = raw.get("address")
    if not isinstance(address, dict):
        return None, [_error("address", "ADDRESS_REQUIRED", "邮寄送达须填写收件地址")]
    cleaned, errors = check_address(address)
    if errors:
        return None, errors
    return {"method": method.name, "address": seal_address(cleaned, keyring)}, []


def check_address(address: dict[str, Any]) -> tuple[dict[str, str], list[DomainError]]:
    """Every field's problem at once (`resultDelivery.address.<field>`), or the cleaned address."""
    errors: list[DomainError] = []
    out: dict[str, str] = {}
    name = _text(address.get("recipientName"))
    if not name:
        errors.append(_error("address.recipientName", "REQUIRED", "请填写收件人姓名"))
    elif len(name) > MAX_NAME:
        errors.append(
            _error("address.recipientName", "TOO_LONG", f"收件人姓名不能超过{MAX_NAME}字")
        )
    elif not _printable(name) or any(c.isdigit() for c in name):
        errors.append(_error("address.recipientName", "INVALID_NAME", "收件人姓名含有非法字符"))
    else:
        out["recipient_name"] = name
    phone = address.get("phone")
    if not _text(phone):
        errors.append(_error("address.phone", "REQUIRED", "请填写收件人手机号码"))
    else:
        try:
            out["phone"] = normalize_phone(str(phone), field=f"{FIELD}.address.phone")
        except InvalidPhoneError as exc:
            errors.append(_error("address.phone", exc.code, "收件人手机号码格式不正确"))
    region = _text(address.get("region"))
    if not region:
        errors.append(_error("address.region", "REQUIRED", "请选择所在地区"))
    elif not _REGION.match(region) or region[:2] not in _PROVINCES or region[4:] == "00":
        errors.append(
            _error("address.region", "INVALID_REGION", "所在地区应为区县级行政区划代码（6位）")
        )
    else:
        out["region"] = region
    line = _text(address.get("line"))
    if not line:
        errors.append(_error("address.line", "REQUIRED", "请填写详细地址"))
    elif len(line) > MAX_LINE:
        errors.append(_error("address.line", "TOO_LONG", f"详细地址不能超过{MAX_LINE}字"))
    elif len(line) < MIN_LINE:
        errors.append(_error("address.line", "TOO_SHORT", "详细地址过短，请写明街道门牌"))
    elif not _printable(line):
        errors.append(_error("address.line", "INVALID_TEXT", "详细地址含有非法字符"))
    else:
        out["line"] = line
    return out, errors


def seal_address(address: dict[str, str], keyring: Keyring) -> Document:
    secret = {k: address[k] for k in ("recipient_name", "phone", "line")}
    blob = sealing.encrypt(
        keyring.delivery_address, json.dumps(secret, ensure_ascii=False), PURPOSE
    )
    return {
        "sealed": Binary(blob),
        "region": address["region"],
        "masked": {
            "recipient_name": mask_name(address["recipient_name"]),
            "phone": mask_phone(address["phone"]),
            "line": mask_line(address["line"]),
        },
    }


def open_address(address: Document, keyring: Keyring) -> dict[str, str]:
    """The full address (recipient_name, phone, line, region): for the holder's export only."""
    keys = keyring.all("delivery_address")  # during a rotation: either generation
    text = sealing.decrypt_any(keys, bytes(address["sealed"]), PURPOSE)
    return {**json.loads(text), "region": address["region"]}


def bundle_choice(
    members: list[Matter], raw: Any, keyring: Keyring
) -> tuple[Document | None, list[DomainError]]:
    """一件事: one `resultDelivery` for the whole bundle, applied to each member whose matter
    offers the method; the others get their default (as without a choice). The address is
    checked and sealed once. Stored with the bundle's request as `{by_matter: {code: method},
    address: <sealed>|None}`: the request never holds the address in clear."""
    if raw is None:  # each member its default, checked now: a posting-only member needs one
        return _with_defaults(members, None, set(), None, keyring)
    if not isinstance(raw, dict):
        return None, [DomainError("送达方式格式不正确", code="INVALID_TYPE", field=FIELD)]
    name = raw.get("method")
    method = ResultDelivery.__members__.get(name) if isinstance(name, str) else None
    takers = [m for m in members if method is not None and method in m.delivery_methods]
    if method is None or not takers:
        return None, [
            _error("method", "DELIVERY_METHOD_NOT_OFFERED", "本一件事的事项均不提供该送达方式")
        ]
    sealed: Document | None = None
    if method is ResultDelivery.POST:
        address = raw.get("address")
        if not isinstance(address, dict):
            return None, [_error("address", "ADDRESS_REQUIRED", "邮寄送达须填写收件地址")]
        cleaned, address_errors = check_address(address)
        if address_errors:
            return None, address_errors
        sealed = seal_address(cleaned, keyring)
    return _with_defaults(members, method, {m.code for m in takers}, sealed, keyring)


def _with_defaults(
    members: list[Matter],
    method: ResultDelivery | None,
    taking: set[str],
    sealed: Document | None,
    keyring: Keyring,
) -> tuple[Document | None, list[DomainError]]:
    by_matter: dict[str, str] = {}
    errors: list[DomainError] = []
    for matter in members:
        if method is not None and matter.code in taking:
            by_matter[matter.code] = method.name
            continue
        default, problems = checked_choice(matter, None, keyring)
        errors += problems  # a posting-only member with another method chosen: no address
        if default is not None:
            by_matter[matter.code] = default["method"]
    return ({"by_matter": by_matter, "address": sealed} if not errors else None), errors


def member_choice(request: Document | None, matter_code: str) -> Document | None:
    """A member's checked `delivery` document from its bundle's stored choice (None: default)."""
    method = ((request or {}).get("by_matter") or {}).get(matter_code)
    if method is None:
        return None
    if method != ResultDelivery.POST.name:
        return {"method": method}
    address = (request or {}).get("address")
    return {"method": method, "address": address} if address else None
