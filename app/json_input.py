"""Client-supplied JSON (the `JSON` scalar) made safe to store in MongoDB.

A key that starts with `$` is an operator to MongoDB and a key holding a dot is a path; either,
stored inside a document, can turn a later update or query built from that document into
something the client wrote. Every JSON input that is stored as it is (drafts) passes here; JSON
checked against a schema or a model (submitted forms, matter documents) is refused there too.
"""

from __future__ import annotations

from typing import Any

from app.errors import DomainError

MAX_DEPTH = 8


class UnsafeJsonError(DomainError):
    code = "INVALID_KEY"


def check_keys(value: Any, field: str, *, depth: int = 0) -> None:
    """Raise `UnsafeJsonError` for a `$`-prefixed, dotted, NUL-holding or non-string key, or for
    nesting deeper than `MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        raise UnsafeJsonError("数据层级过深 (nested too deeply)", field=field)
    if isinstance(value, dict):
        for key, inner in value.items():
            if (
                not isinstance(key, str)
                or not key
                or key.startswith("$")
                or "." in key
                or "\x00" in key
            ):
                raise UnsafeJsonError(
                    "字段名不能以 $ 开头或包含“.” (keys may not start with $ or hold a dot)",
                    field=field,
                )
            check_keys(inner, field, depth=depth + 1)
    elif isinstance(value, list):
        for inner in value:
            check_keys(inner, field, depth=depth + 1)
