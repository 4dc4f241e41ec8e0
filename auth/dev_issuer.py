"""A stand-in for the provincial identity service's OIDC issuer, for dev machines and tests.

It serves discovery and a JWKS like a real issuer and mints ID tokens for whoever asks, so it is
mounted only in dev (`/dev/oidc`) and production refuses to start with it enabled. Tests run it
under uvicorn on 127.0.0.1 and sign tokens with `DevIssuer.mint`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class DevIssuer:
    def __init__(self, issuer: str, audience: str, id_number_claim: str = "id_card_number"):
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.id_number_claim = id_number_claim
        self.kid = secrets.token_hex(4)
        self.key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def mint(
        self,
        *,
        name: str,
        id_number: str,
        phone: str | None = None,
        acr: str = "L3",
        lifetime: timedelta = timedelta(minutes=5),
        **overrides: Any,
    ) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": f"sd-{secrets.token_hex(6)}",
            "iat": now,
            "exp": now + lifetime,
            "name": name,
            self.id_number_claim: id_number,
            "acr": acr,
        }
        if phone:
            claims["phone_number"] = phone
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def asgi_app(self) -> Starlette:
        async def discovery(_: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.issuer}/jwks",
                    "id_token_signing_alg_values_supported": ["ES256"],
                }
            )

        async def jwks(_: Request) -> JSONResponse:
            return JSONResponse(self.jwks())

        async def token(request: Request) -> JSONResponse:
            params: dict[str, Any] = dict(request.query_params)
            if request.method == "POST":
                params.update(await request.json())
            if not params.get("name") or not params.get("id_number"):
                return JSONResponse({"error": "name and id_number are required"}, 400)
            minted = self.mint(
                name=str(params["name"]),
                id_number=str(params["id_number"]),
                phone=params.get("phone"),
                acr=str(params.get("acr", "L3")),
            )
            return JSONResponse({"id_token": minted})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/token", token, methods=["GET", "POST"]),
            ]
        )
