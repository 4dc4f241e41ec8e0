"""Application forms at rest: identity numbers and phones sealed, the rest as typed.

A form field whose schema says `x-format: id-number` or `phone` holds a person's identifier.
Where a form is stored (a case's `form`, a draft's, a 一件事 bundle's `request.form`) those
values are replaced by their masked display form (`3702**********1234`, `138****0001`) and the
originals go, together, into one AES-GCM blob beside it (`form_sealed`; key `form_data`,
purpose `form-data`). A database dump shows the masked copy only; readers that need the full
values (the applicant's and the clerk's case view, prefill, a bundle finishing its members, the
holder's export) open the blob, under any key generation the process reads.

Sealing happens once, where the document is built, after validation and 秒批 have seen the
clear form; reads open lazily (only a resolver asking for `form` pays for the decryption, not a
queue listing). A form stored before sealing existed has no `form_sealed` key and reads as it
is, until `zsb keys reseal` seals it (`detected_fields`; a sealed form always has the key, null
when it holds no personal value).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from bson import Binary

from app import sealing
from app.errors import DomainError
from app.keyring import Keyring
from app.masking import mask_number, mask_phone
from applications.forms import Schema, form_schema
from auth.identity_numbers import normalize_id_number, normalize_phone
from matters.models import Matter

PURPOSE = "form-data"
SEALED_FORMATS = frozenset({"id-number", "phone"})


def personal_fields(schema: Schema) -> dict[str, str]:
    """Field name -> `x-format` of every field of `schema` that is sealed at rest."""
    props: Schema = schema.get("properties") or {}
    return {
        key: str(prop["x-format"])
        for key, prop in props.items()
        if isinstance(prop, dict) and prop.get("x-format") in SEALED_FORMATS
    }


def matter_fields(matters: Iterable[Matter]) -> dict[str, str]:
    """The sealed fields of the matters' forms in any situation: a draft is not validated, so it
    may hold another situation's fields (an agent's section), and a bundle merges members."""
    fields: dict[str, str] = {}
    for matter in matters:
        for situation in matter.situations:
            fields.update(personal_fields(form_schema(matter, situation.code)))
    return fields


def detected_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The fields of a form stored before sealing existed whose value *is* an identity number or
    a mobile number (`zsb keys reseal` seals them; the schema of then may be gone). Sealing is
    lossless, so a value caught by mistake still reads back as it was."""
    fields: dict[str, str] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue
        for fmt, check in (("id-number", normalize_id_number), ("phone", normalize_phone)):
            try:
                check(value)
            except DomainError:
                continue
            fields[key] = fmt
            break
    return fields


def _masked(fmt: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return mask_phone(text) if fmt == "phone" else mask_number(text)


def _secret(fields: Mapping[str, str], form: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k in fields and v not in (None, "")}


def masked_form(fields: Mapping[str, str], form: Mapping[str, Any]) -> dict[str, Any]:
    """The form with the values of `fields` masked for display."""
    secret = _secret(fields, form)
    return {k: _masked(fields[k], v) if k in secret else v for k, v in form.items()}


def seal_form(
    fields: Mapping[str, str], form: Mapping[str, Any], keyring: Keyring
) -> tuple[dict[str, Any], Binary | None]:
    """The form to store (personal values masked) and the blob of the originals (None when the
    form holds none)."""
    secret = _secret(fields, form)
    if not secret:
        return dict(form), None
    stored = masked_form(fields, form)
    text = json.dumps(secret, ensure_ascii=False, default=str)
    return stored, Binary(sealing.encrypt(keyring.form_data, text, PURPOSE))


def sealed(fields: Mapping[str, str], form: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """`{"form": …, "form_sealed": …}` to merge into the document being written (a blob of None
    clears one an earlier version of the document had)."""
    stored, blob = seal_form(fields, form, keyring)
    return {"form": stored, "form_sealed": blob}


def open_form(
    form: Mapping[str, Any] | None, blob: bytes | None, keyring: Keyring
) -> dict[str, Any]:
    """The form as typed: the stored one with the sealed values put back."""
    opened = dict(form or {})
    if blob:
        keys = keyring.all("form_data")  # during a rotation: either generation
        opened.update(json.loads(sealing.decrypt_any(keys, bytes(blob), PURPOSE)))
    return opened


def open_document(doc: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """`open_form` of a stored document holding `form` and `form_sealed`."""
    return open_form(doc.get("form"), doc.get("form_sealed"), keyring)
