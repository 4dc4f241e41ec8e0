"""Access tokens: ES256 JWTs with a `kid`, keys kept in MongoDB so every process shares them.

Private keys are stored wrapped with AES-GCM under a key derived from the master secret.
`zsb keys rotate` adds a new key; retired keys keep verifying for one access-token lifetime.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from app import sealing
from app.errors import UnauthenticatedError
from auth.models import AssuranceLevel, Role, User
from auth.store import AuthStore

ALGORITHM = "ES256"
_RELOAD_INTERVAL = 30.0  # seconds between key reloads, so a rotation reaches every process
_WRAP_PURPOSE = "signing-key"
# Tolerated skew for `nbf`/`iat` only (as the SDL1 spec allows ±30 s): a token minted by a host
# whose clock runs a little ahead, or read just after an NTP step back, is not refused. `exp`
# gets no leeway.
CLOCK_SKEW_SECONDS = 30


def _system_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str
    roles: frozenset[Role]
    assurance_level: AssuranceLevel
    organization_code: str | None
    scenes: frozenset[str]
    department_code: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    private: ec.EllipticCurvePrivateKey
    created_at: datetime
    retired_at: datetime | None


class TokenKeys:
    """The signing keys of this process, reloaded from the store now and then."""

    def __init__(
        self,
        wrap_key: bytes,
        *,
        old_wrap_keys: Sequence[bytes] = (),
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Callable[[], datetime] = _system_now,
    ) -> None:
        self._wrap_key = wrap_key
        self._unwrap_keys = (wrap_key, *old_wrap_keys)  # during a master-secret rotation
        self.clock = clock  # the one notion of "now" for minting and expiry (tests move it)
        self.issuer = issuer
        self.audience = audience
        self.ttl = timedelta(seconds=ttl_seconds)
        self._keys: dict[str, _Key] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    # -- key management ------------------------------------------------------------------

    def _wrap_private(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        return sealing.wrap_private_key(self._wrap_key, key, _WRAP_PURPOSE)

    def _unwrap_private(self, blob: bytes) -> ec.EllipticCurvePrivateKey:
        return sealing.unwrap_private_key_any(self._unwrap_keys, blob, _WRAP_PURPOSE)

    async def rotate(self, store: AuthStore) -> str:
        """Create a new signing key and retire the older ones; returns the new `kid`."""
        now = self.clock()
        kid = secrets.token_hex(8)
        key = ec.generate_private_key(ec.SECP256R1())
        await store.insert_signing_key(
            {
                "_id": kid,
                "alg": ALGORITHM,
                "private_cipher": self._wrap_private(key),
                "created_at": now,
                "retired_at": None,
            }
        )
        await store.retire_signing_keys_before(now, now)
        await self.reload(store)
        return kid

    async def ensure(self, store: AuthStore) -> None:
        await self.reload(store)
        if not self._active_key():
            await self.rotate(store)

    async def reload(self, store: AuthStore) -> None:
        async with self._lock:
            docs = await store.signing_keys()
            self._keys = {
                d["_id"]: _Key(
                    d["_id"],
                    self._unwrap_private(d["private_cipher"]),
                    d["created_at"],
                    d.get("retired_at"),
                )
                for d in docs
            }
            self._loaded_at = time.monotonic()

    async def _refresh_if_stale(self, store: AuthStore) -> None:
        if time.monotonic() - self._loaded_at > _RELOAD_INTERVAL:
            await self.reload(store)

    def _active_key(self) -> _Key | None:
        live = [k for k in self._keys.values() if k.retired_at is None]
        return max(live, key=lambda k: k.created_at) if live else None

    def _verifying_key(self, kid: str, now: datetime) -> _Key | None:
        key = self._keys.get(kid)
        if key is None or (key.retired_at is not None and key.retired_at + self.ttl < now):
            return None
        return key

    # -- tokens --------------------------------------------------------------------------

    async def issue(self, store: AuthStore, user: User, session_id: str) -> tuple[str, int]:
        await self._refresh_if_stale(store)
        key = self._active_key()
        if key is None:
            await self.ensure(store)
            key = self._active_key()
            if key is None:
                raise RuntimeError("no active signing key after ensure()")
        now = self.clock()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user.id),
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": secrets.token_hex(8),
            "roles": sorted(r.value for r in user.roles),
            "al": user.assurance_level.value,
        }
        if user.organization:
            claims["org"] = user.organization.code
        if user.scenes:
            claims["scn"] = list(user.scenes)
        if user.department_code:
            claims["dept"] = user.department_code
        token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
        return token, int(self.ttl.total_seconds())

    async def verify(self, store: AuthStore, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError("访问令牌无效 (malformed access token)") from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise UnauthenticatedError("访问令牌无效 (unexpected token algorithm)")
        now = self.clock()
        key = self._verifying_key(kid, now)
        if key is None and time.monotonic() - self._loaded_at > 1.0:
            await self.reload(store)  # a key rotated in another process
            key = self._verifying_key(kid, now)
        if key is None:
            raise UnauthenticatedError("访问令牌无效 (unknown key)")
        try:
            claims = jwt.decode(
                token,
                key.private.public_key(),
                algorithms=[ALGORITHM],  # never taken from the token: no `none`, no HS256
                audience=self.audience,
                issuer=self.issuer,
                # Time is checked below against this object's clock, not PyJWT's own.
                options={
                    "require": ["exp", "iat", "nbf", "sub", "sid", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            _check_times(claims, now)
            return AccessClaims(
                user_id=str(claims["sub"]),
                session_id=str(claims["sid"]),
                roles=frozenset(Role(r) for r in claims.get("roles", [])),
                assurance_level=AssuranceLevel(claims.get("al", "L1")),
                organization_code=claims.get("org"),
                scenes=frozenset(claims.get("scn", [])),
                department_code=claims.get("dept"),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except _Expired as exc:
            raise UnauthenticatedError("访问令牌已过期 (access token expired)") from exc
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise UnauthenticatedError("访问令牌无效 (invalid access token)") from exc


class _Expired(Exception):
    pass


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    """`exp` strictly; `nbf` and `iat` with CLOCK_SKEW_SECONDS (numbers, as PyJWT requires)."""
    at = now.timestamp()
    exp, nbf, iat = claims["exp"], claims["nbf"], claims["iat"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, nbf, iat)):
        raise ValueError("time claims must be numbers")
    if exp <= at:
        raise _Expired
    if nbf > at + CLOCK_SKEW_SECONDS or iat > at + CLOCK_SKEW_SECONDS:
        raise ValueError("token not yet valid")
