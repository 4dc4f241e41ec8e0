"""PIPL rights (个人信息保护法 arts. 45 and 47): a person's copy of their data, and erasure.

Each domain knows what it holds about a person and offers `export(db, user_id)` and
`erase(db, user_id, now)` in its own `personal_data` module; this module only calls them in
order and records the act in the audit log. No domain reads another's collections.

Erasure keeps what the law requires and nothing else reachable (docs/security.md, "Retention"):
- submitted applications are government case files (政务服务档案, requirements.md G6 "retention
  policies"; the e-archive regulations of the policy documents): kept, detached from the erased
  account (its id survives only as a pseudonym, the user document is gone);
- licence usage records are the verifying organisations' evidence of a check: kept the same way;
- audit events are the append-only log of privileged acts: kept;
- everything else (account, identity and phone ciphers, sessions, drafts, wallet copies of
  licences, grants, delegations, devices, inbox, preferences) is deleted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bson import ObjectId

from app import erasures
from app.audit import AuditEvent
from app.context import AppState
from applications import personal_data as applications_data
from auth import personal_data as auth_data
from auth.directory import phone_key_candidates
from auth.errors import InvalidCodeError
from auth.permissions import Viewer
from electronic_cards import personal_data as cards_data
from notifications import personal_data as notifications_data

EXPORT_FORMAT = "zsb-personal-data/1"


def json_safe(value: Any) -> Any:
    """Documents as JSON: ids and times as strings; bytes (ciphers, hashes) left out."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value if not isinstance(v, bytes)]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


async def _phone_keys(state: AppState, user_id: ObjectId) -> list[str]:
    """The blind index other records name this person by (帮办代办 grants name agents by it)."""
    user = await state.auth_service().get_user(user_id)
    # Every key generation's: a grant made before a master-secret rotation may not be resealed yet.
    return phone_key_candidates(state.keyring, [user.phone]) if user is not None else []


async def export_all(state: AppState, viewer: Viewer) -> dict[str, Any]:
    db, user_id = state.db, viewer.user_id
    phone_keys = await _phone_keys(state, user_id)
    exported = {
        "format": EXPORT_FORMAT,
        "exportedAt": datetime.now(UTC).isoformat(),
        "account": await auth_data.export(state.auth_service(), user_id),
        "applications": await applications_data.export(db, user_id, phone_keys, state.keyring),
        "licences": await cards_data.export(db, user_id),
        "notifications": await notifications_data.export(db, user_id),
    }
    await state.audit().record(
        AuditEvent("privacy.export", user_id, tuple(r.value for r in viewer.roles))
    )
    return dict(json_safe(exported))


async def erase_all(state: AppState, viewer: Viewer, code: str) -> dict[str, int]:
    """Erase the viewer's account after re-confirmation with a fresh SMS code.

    Refuses (DomainError) while an application is still being processed: the case must be
    withdrawn or decided first. The account is marked first, so nothing new is created for it
    while the steps run; an erasure that stopped part way is resumed by a repeat or by the
    worker (app/erasures.py).
    """
    auth = state.auth_service()
    await auth_data.confirm(auth, viewer.user_id, code)
    now = datetime.now(UTC)
    phone_keys = await _phone_keys(state, viewer.user_id)  # before the account goes
    roles = tuple(r.value for r in viewer.roles)
    erasure = await erasures.begin(state, viewer.user_id, roles, phone_keys, now)
    if erasure is None:  # erased meanwhile by a concurrent request
        raise InvalidCodeError()
    await erasures.check(state, erasure, now)
    return await erasures.run(state, erasure, now)
