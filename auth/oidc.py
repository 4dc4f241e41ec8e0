"""Verification of ID tokens from the provincial unified identity service (统一身份认证)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from auth.errors import InvalidTokenError
from auth.models import AssuranceLevel

_ALLOWED_ALGORITHMS = ["ES256", "RS256", "EdDSA"]
_JWKS_TTL = 300.0
_MIN_REFRESH_INTERVAL = 10.0  # an unknown `kid` may refetch the JWKS, but not on every request


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    subject: str
    name: str
    id_number: str
    phone: str | None
    assurance_level: AssuranceLevel


def assurance_from_acr(acr: object) -> AssuranceLevel:
    """The issuer says how it checked the person; face verification is L3, real-name L2."""
    if isinstance(acr, str) and acr.upper() in {"L3", "FACE", "urn:zsb:acr:face".upper()}:
        return AssuranceLevel.L3
    return AssuranceLevel.L2


class OidcVerifier:
    def __init__(
        self, http: httpx.AsyncClient, issuer: str, audience: str, id_number_claim: str
    ) -> None:
        self.http = http
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.id_number_claim = id_number_claim
        self._jwks: jwt.PyJWKSet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch_jwks(self) -> jwt.PyJWKSet:
        discovery = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
        discovery.raise_for_status()
        config: dict[str, Any] = discovery.json()
        if config.get("issuer", "").rstrip("/") != self.issuer:
            raise InvalidTokenError("身份认证服务配置不符 (issuer mismatch)", field="idToken")
        keys = await self.http.get(config["jwks_uri"])
        keys.raise_for_status()
        return jwt.PyJWKSet.from_dict(keys.json())

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            known = self._jwks is not None and any(k.key_id == kid for k in self._jwks.keys)
            if self._jwks is None or age > _JWKS_TTL or (not known and age > _MIN_REFRESH_INTERVAL):
                try:
                    self._jwks = await self._fetch_jwks()
                except (httpx.HTTPError, KeyError, ValueError, jwt.PyJWTError) as exc:
                    raise InvalidTokenError(
                        "身份认证服务暂不可用 (identity service unavailable)", field="idToken"
                    ) from exc
                self._fetched_at = time.monotonic()
            for key in self._jwks.keys:
                if key.key_id == kid:
                    return key
        raise InvalidTokenError("身份令牌签名密钥未知 (unknown key)", field="idToken")

    async def verify(self, id_token: str) -> VerifiedIdentity:
        if not isinstance(id_token, str) or len(id_token) > 8192:
            raise InvalidTokenError(field="idToken")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(field="idToken") from exc
        kid = header.get("kid")
        if header.get("alg") not in _ALLOWED_ALGORITHMS or not isinstance(kid, str):
            raise InvalidTokenError(field="idToken")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=[a for a in _ALLOWED_ALGORITHMS if a == header["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(field="idToken") from exc
        id_number = claims.get(self.id_number_claim)
        name = claims.get("name")
        if not isinstance(id_number, str) or not isinstance(name, str) or not name:
            raise InvalidTokenError("身份令牌缺少实名信息 (no real-name claims)", field="idToken")
        phone = claims.get("phone_number")
        return VerifiedIdentity(
            subject=str(claims["sub"]),
            name=name,
            id_number=id_number,
            phone=phone if isinstance(phone, str) else None,
            assurance_level=assurance_from_acr(claims.get("acr")),
        )
