"""What the auth domain holds about a person, for PIPL export and erasure (app/personal_data.py).

Export: the account in the clear (it is the person's own copy: phone, name, identity number)
and the sign-in sessions (when, how, whether ended; never token hashes).
Erasure: every session revoked, refresh tokens and the user document deleted (with it the
phone and identity-number ciphers and their blind indexes), dev SMS copies deleted. Login-code
quotas stay until they expire: they hold only a blind index and a counter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from auth.errors import InvalidCodeError
from auth.service import AuthService
from auth.store import DEV_SMS, REFRESH_TOKENS, SESSIONS
from auth.user_store import USERS


async def export(auth: AuthService, user_id: ObjectId) -> dict[str, Any]:
    user = await auth.get_user(user_id)
    if user is None:
        return {}
    sessions = (
        await auth.store.db[SESSIONS]
        .find({"user_id": user_id}, {"user_id": 0})
        .sort("created_at", 1)
        .to_list(1000)
    )
    return {
        "phone": user.phone,
        "name": user.name,
        "idNumber": auth.reveal_id_number(user),
        "birthDate": user.birth_date,
        "regionCode": user.region_code,
        "roles": [r.value for r in user.roles],
        "assuranceLevel": user.assurance_level.value,
        "tags": list(user.tags),
        "createdAt": user.created_at,
        "sessions": [
            {
                "createdAt": s.get("created_at"),
                "method": s.get("method"),
                "endedAt": s.get("revoked_at"),
                "endReason": s.get("revoked_reason"),
            }
            for s in sessions
        ],
    }


async def confirm(auth: AuthService, user_id: ObjectId, code: str) -> None:
    """Re-confirmation for erasure: a fresh SMS code sent to the account's own phone."""
    user = await auth.get_user(user_id)
    if user is None:
        raise InvalidCodeError()
    await auth.take_code(user.phone, code)


async def erase(auth: AuthService, user_id: ObjectId, now: datetime) -> dict[str, int]:
    user = await auth.get_user(user_id)
    db = auth.store.db
    sessions = await auth.store.revoke_user_sessions(user_id, now, "account-erased")
    auth.sessions.forget_user(user_id)
    tokens = await db[REFRESH_TOKENS].delete_many({"user_id": user_id})
    if user is not None:
        await db[DEV_SMS].delete_many({"phone": user.phone})
    users = await db[USERS].delete_one({"_id": user_id})
    return {
        "sessionsRevoked": sessions,
        "refreshTokensDeleted": tokens.deleted_count,
        "accountsDeleted": users.deleted_count,
    }
