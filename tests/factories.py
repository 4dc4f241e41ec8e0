"""Test helpers as plain functions and one small API client: no fakes of our own system."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from app.context import AppState
from app.seed import DEMO_USERS
from auth.models import User
from auth.service import UserSpec
from auth.store import AuthStore
from auth.user_store import phone_key

Json = dict[str, Any]

LOGIN = """
mutation Login($phone: String!, $code: String!) {
  loginWithCode(input: {phone: $phone, code: $code}) {
    accessToken refreshToken expiresIn
    user { id phone name roles assuranceLevel }
    userErrors { field code message }
  }
}"""

REQUEST_CODE = """
mutation Req($phone: String!) {
  requestLoginCode(input: {phone: $phone}) {
    retryAfterSeconds
    userErrors { field code message }
  }
}"""


@dataclass
class Api:
    client: httpx.AsyncClient
    state: AppState

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query, "variables": variables or {}, **extra}
        return await self.client.post("/graphql", json=body, headers=headers)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        payload: dict[str, Any] = response.json()
        return payload

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        payload = await self.gql(query, variables, token)
        assert "errors" not in payload, payload
        data: dict[str, Any] = payload["data"]
        return data

    async def last_sms_code(self, phone: str) -> str:
        doc = await AuthStore(self.state.db).latest_dev_sms(phone)
        assert doc is not None, f"no SMS recorded for {phone}"
        match = re.search(r"(\d{6})", doc["text"])
        assert match
        return match.group(1)

    async def login(self, phone: str) -> dict[str, Any]:
        """Sign in through the real SMS-code flow; returns the loginWithCode payload."""
        requested = await self.data(REQUEST_CODE, {"phone": phone})
        assert requested["requestLoginCode"]["userErrors"] == []
        code = await self.last_sms_code(phone)
        payload = (await self.data(LOGIN, {"phone": phone, "code": code}))["loginWithCode"]
        assert payload["userErrors"] == [], payload
        return dict(payload)

    async def token(self, phone: str) -> str:
        return str((await self.login(phone))["accessToken"])


def phone_key_of(api: Api, phone: str) -> str:
    """How documents keyed by phone find it: the phone's blind index."""
    return phone_key(api.state.keyring, phone)


async def create_demo_user(state: AppState, phone: str) -> User:
    spec = next(s for s in DEMO_USERS if s.phone == phone)
    return await state.auth_service().ensure_user(spec)


async def create_user(state: AppState, spec: UserSpec) -> User:
    return await state.auth_service().ensure_user(spec)
