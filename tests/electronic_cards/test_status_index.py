"""The status-list index the offline verifier page fetches before it meets a token."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from electronic_cards import sdl1
from tests.electronic_cards.helpers import HOLDER, licence_id, mint_text, seeded
from tests.factories import Api


async def test_the_index_names_the_list_every_offline_token_points_at(
    api: Api, app: FastAPI
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://verifier") as http:
        empty = await http.get("/.well-known/sdl-status-lists.json")
        assert empty.json() == {"lists": []}
        await seeded(api)
        holder = await api.token(HOLDER)
        text = await mint_text(api, holder, await licence_id(api, holder, "JDCJSZ"), "OFFLINE")
        claims = sdl1.decode_token(text).claims
        index = await http.get("/.well-known/sdl-status-lists.json")
        assert index.status_code == 200
        assert index.headers["cache-control"].startswith("public")
        assert f"/.well-known/sdl-status/{claims.sl}" in index.json()["lists"]
        for path in index.json()["lists"]:
            listing = await http.get(path)
            assert listing.status_code == 200
            assert listing.text.startswith("SDLS1:")


async def test_licence_types_carry_the_token_code_offline_verifiers_map(api: Api) -> None:
    data = await api.data("{ licenceTypes { code tokenCode name } }")
    by_code = {t["code"]: t for t in data["licenceTypes"]}
    assert by_code["JMSFZ"]["tokenCode"] == "01"
    assert len({t["tokenCode"] for t in data["licenceTypes"]}) == len(data["licenceTypes"])
