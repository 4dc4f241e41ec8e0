"""Opaque global ids (`base64("Type:raw")`): clients never see ObjectIds or collection names."""

from __future__ import annotations

import base64
import binascii

from bson import ObjectId
from bson.errors import InvalidId

from app.errors import InvalidIdError


def to_global_id(type_name: str, raw: str | ObjectId) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def from_global_id(global_id: str, expected_type: str, *, field: str = "id") -> str:
    """The raw id inside `global_id`, or `InvalidIdError` if it is not a `expected_type` id."""
    if not isinstance(global_id, str) or len(global_id) > 200:
        raise InvalidIdError("无效的标识 (malformed id)", field=field)
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidIdError("无效的标识 (malformed id)", field=field) from exc
    if type_name != expected_type or not raw:
        raise InvalidIdError(f"标识类型不符，应为 {expected_type} (wrong id type)", field=field)
    return raw


def object_id_from_global(global_id: str, expected_type: str, *, field: str = "id") -> ObjectId:
    raw = from_global_id(global_id, expected_type, field=field)
    try:
        return ObjectId(raw)
    except InvalidId as exc:
        raise InvalidIdError("无效的标识 (malformed id)", field=field) from exc
