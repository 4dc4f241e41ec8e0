"""The dev settings' stand-in issuer lets the unified-identity flow be tried by hand."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.main import create_app
from auth.identity_numbers import with_check_digit
from tests.conftest import ThreadedServer, loopback_socket, make_settings


async def test_dev_issuer_mints_a_token_the_same_service_accepts(
    mongo_uri: str, tmp_path: Path
) -> None:
    sock = loopback_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(
        mongo_uri, tmp_path, dev_issuer=True, oidc_issuer=None, public_base_url=base
    )
    with ThreadedServer(create_app(settings), lifespan="on", sock=sock):
        async with httpx.AsyncClient(base_url=base) as http:
            config = (await http.get("/dev/oidc/.well-known/openid-configuration")).json()
            assert config["issuer"] == f"{base}/dev/oidc"
            number = with_check_digit("37028119900101555")
            minted = await http.get(
                "/dev/oidc/token",
                params={"name": "刘一", "id_number": number, "phone": "13500000005"},
            )
            query = "mutation($t: String!) { exchangeIdentityToken(input: {idToken: $t}) "
            query += "{ user { name assuranceLevel } userErrors { code } } }"
            result = await http.post(
                "/graphql",
                json={"query": query, "variables": {"t": minted.json()["id_token"]}},
            )
            payload = result.json()["data"]["exchangeIdentityToken"]
            assert payload == {"user": {"name": "刘*", "assuranceLevel": "L3"}, "userErrors": []}
            refused = await http.get("/dev/oidc/token", params={"name": "刘一"})
            assert refused.status_code == 400
