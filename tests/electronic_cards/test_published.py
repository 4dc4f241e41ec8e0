"""What verifiers outside the system get: published keys, status lists, `zsb verify-qr`'s
checker, and key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from electronic_cards import sdl1
from electronic_cards.keys import LONGEST_SIGNED_LIFE, SdlKey, kid_of
from electronic_cards.offline import verify_text
from electronic_cards.store import CardsStore
from tests.electronic_cards import spec_verifier
from tests.electronic_cards.helpers import (
    ADMIN,
    HOLDER,
    TRAFFIC,
    change_status,
    licence_id,
    mint_text,
    seeded,
    verify,
)
from tests.factories import Api


def _http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://verifier")


async def test_keys_status_lists_and_the_offline_checker(api: Api, app: FastAPI) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    admin = await api.token(ADMIN)
    lid = await licence_id(api, holder, "JDCJSZ")
    text = await mint_text(api, holder, lid, "OFFLINE")
    claims = sdl1.decode_token(text).claims

    async with _http(app) as http:
        keys = await http.get("/.well-known/sdl-keys.json")  # no authentication
        assert keys.status_code == 200
        assert "max-age" in keys.headers["cache-control"]
        document = keys.json()
        entry = document["keys"][0]
        assert set(entry) == {"kid", "alg", "kty", "crv", "x", "y", "nbf", "exp"}
        assert entry["nbf"] < entry["exp"]

        # The spec-only verifier accepts the token and the status list.
        assert spec_verifier.verify(text, document)[-70014] == "3702**********1230"
        listing = await http.get(f"/.well-known/sdl-status/{claims.sl}")
        assert listing.status_code == 200
        assert listing.text.startswith("SDLS1:")
        assert spec_verifier.status_of(listing.text, document, claims.si or 0) == 0
        assert (await http.get("/.well-known/sdl-status/no-such-list")).status_code == 404

        first = await verify_text(text, http, "http://verifier")
        assert first.result.value == "VALID"
        assert first.label == "OFFLINE"
        assert first.fields["holderName"] == "张*明"

        # Suspension and revocation show in the very next list, 2 then 1 (spec §5).
        await change_status(api, admin, "suspendLicence", lid)
        listing = await http.get(f"/.well-known/sdl-status/{claims.sl}")
        assert spec_verifier.status_of(listing.text, document, claims.si or 0) == 2
        await change_status(api, admin, "revokeLicence", lid)
        listing = await http.get(f"/.well-known/sdl-status/{claims.sl}")
        assert spec_verifier.status_of(listing.text, document, claims.si or 0) == 1
        assert (await verify_text(text, http, "http://verifier")).result.value == "REVOKED"

        # An online token verifies offline as far as the keys go, and says what it lacks.
        other = await mint_text(api, holder, await licence_id(api, holder, "JMSFZ"))
        online = await verify_text(other, http, "http://verifier")
        assert online.result.value == "VALID"
        assert online.label == "ONLINE_TOKEN_STATUS_UNCHECKED"
        assert (await verify_text("SDL1:%%", http, "http://verifier")).result.value == "MALFORMED"


async def test_rotation_publishes_ahead_and_keeps_old_keys(api: Api, app: FastAPI) -> None:
    await seeded(api)
    holder = await api.token(HOLDER)
    officer = await api.token(TRAFFIC)
    lid = await licence_id(api, holder, "JDCJSZ")
    ring, store = api.state.sdl_keys, CardsStore(api.state.db)
    old = await mint_text(api, holder, lid)
    old_kid = sdl1.decode_token(old).sign1.kid

    ahead = await ring.rotate(store, timedelta(days=1))
    async with _http(app) as http:
        published = {
            k["kid"] for k in (await http.get("/.well-known/sdl-keys.json")).json()["keys"]
        }
    assert len(published) == 2  # the new key is listed a day before it signs anything
    assert sdl1.decode_token(await mint_text(api, holder, lid)).sign1.kid == old_kid

    now = await ring.rotate(store, timedelta(0))
    new = await mint_text(api, holder, lid)
    assert sdl1.decode_token(new).sign1.kid == now.kid
    # Tokens of the old key still verify until they expire; the new one verifies too.
    assert (await verify(api, officer, old, "TRAFFIC_CHECK"))["result"] == "VALID"
    assert (await verify(api, officer, new, "TRAFFIC_CHECK"))["result"] == "VALID"
    # A superseded key leaves the list once everything it signed has expired (the longest-lived
    # thing it signs is a 24-hour status list); the pending key stays listed, and takes over
    # when its time comes.
    later = datetime.now(UTC) + LONGEST_SIGNED_LIFE + timedelta(minutes=1)
    assert {k.kid for k in ring.published(later)} == {now.kid, ahead.kid}
    assert ring.signing_key(later + timedelta(hours=1)).kid == ahead.kid
    # The private halves are stored wrapped, never as plain PKCS#8.
    stored = await api.state.db["sdl_signing_keys"].find_one({"_id": now.kid.hex()})
    assert stored is not None
    assert b"\x30\x81" not in stored["private_cipher"][:16]
    assert "private_pem" not in stored


def test_cli_verify_qr_reports_a_malformed_text(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    # Step 1 fails before anything is fetched, so no server is needed for this answer.
    assert main(["verify-qr", "SDL1:not a token", "--base-url", "http://127.0.0.1:9"]) == 1
    out = capsys.readouterr().out
    assert "result=MALFORMED" in out
    # A well-formed token with nowhere to fetch keys from is an error, not a verdict.
    text = sdl1.encode_token(
        sdl1.Claims("370200", 1_800_000_000, 1_800_000_060, b"12345678", "04", ref=b"x" * 12),
        _any_key(),
    )
    assert main(["verify-qr", text, "--base-url", "http://127.0.0.1:9"]) == 2


def _any_key() -> SdlKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return SdlKey(kid_of(private.public_key()), private, private.public_key(), now, now, None)
