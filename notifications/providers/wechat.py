"""WeChat mini-program subscribe messages (`subscribeMessage.send`) over httpx.

- Access token: `POST /cgi-bin/stable_token`. Unlike `/cgi-bin/token`, it hands every caller the
  same live token, so several worker processes do not invalidate each other's. It is cached until
  5 minutes before expiry; an answer of 40001/42001 (token invalid/expired) forces one refresh
  and one retry of that message.
- Consent ledger: a one-time subscription allows exactly one message; the grant is taken
  (atomically) before the send and given back if the send did not happen. No grant: the message
  is not sent (inbox only). 43101 (user refused / no grant left) zeroes the ledger entry.
- Data: WeChat `thing` values hold at most 20 characters; each category's template has
  `thing1` (title) and `thing2` (body), cut to fit — the inbox carries the full text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx

from notifications.models import Provider
from notifications.providers.base import Outcome, PushMessage, SendResult
from notifications.wechat_store import WechatGrantStore

THING_MAX = 20
_TOKEN_ERRORS = {40001, 42001}
_RETRYABLE = {-1, 45009}  # system busy; daily quota reached (try later)
_CONCURRENCY = 20


def _thing(text: str) -> str:
    return text if len(text) <= THING_MAX else text[: THING_MAX - 1] + "…"


class WeChatProvider:
    provider = Provider.WECHAT_MINIPROGRAM
    max_batch = 500

    def __init__(
        self,
        http: httpx.AsyncClient,
        store: WechatGrantStore,
        *,
        appid: str,
        secret: str,
        api_base: str,
        templates: dict[str, str],
    ) -> None:
        self._http = http
        self._store = store
        self._appid = appid
        self._secret = secret
        self._base = api_base.rstrip("/")
        self._templates = templates
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(_CONCURRENCY)

    async def _access_token(self, *, force: bool = False) -> str:
        async with self._token_lock:
            if force or self._token is None or time.monotonic() >= self._token_expires:
                response = await self._http.post(
                    f"{self._base}/cgi-bin/stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": self._appid,
                        "secret": self._secret,
                        "force_refresh": force,
                    },
                )
                body = response.json()
                if "access_token" not in body:
                    raise httpx.HTTPError(f"stable_token: {body.get('errcode')}")
                self._token = str(body["access_token"])
                self._token_expires = time.monotonic() + int(body.get("expires_in", 7200)) - 300
            return self._token

    async def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))

    async def _send_one(self, m: PushMessage) -> SendResult:
        template_id = self._templates.get(m.category)
        if template_id is None:
            return SendResult(Outcome.INVALID, code="NO_TEMPLATE")
        if not await self._store.take_wechat_grant(m.token, template_id):
            return SendResult(Outcome.INVALID, code="NO_GRANT")
        async with self._slots:
            try:
                result = await self._post(m, template_id)
            except (httpx.HTTPError, ValueError):  # unreachable, slow or garbage: not sent
                result = SendResult(Outcome.RETRY, code="TRANSPORT")
        if result.outcome is Outcome.RETRY:
            await self._store.return_wechat_grant(m.token, template_id)
        elif result.code == "43101":
            await self._store.clear_wechat_grant(m.token, template_id)
        return result

    async def _post(self, m: PushMessage, template_id: str) -> SendResult:
        payload = {
            "touser": m.token,
            "template_id": template_id,
            "page": m.deep_link or "",
            "data": {"thing1": {"value": _thing(m.title)}, "thing2": {"value": _thing(m.body)}},
        }
        for force in (False, True):
            token = await self._access_token(force=force)
            response = await self._http.post(
                f"{self._base}/cgi-bin/message/subscribe/send",
                params={"access_token": token},
                json=payload,
            )
            if response.status_code >= 500:
                return SendResult(Outcome.RETRY, code=f"HTTP_{response.status_code}")
            code = int(response.json().get("errcode", -1))
            if code not in _TOKEN_ERRORS:
                break
        if code == 0:
            return SendResult(Outcome.ACCEPTED)
        if code == 40003:  # the openid is not (or no longer) ours
            return SendResult(Outcome.UNREGISTERED, code="40003")
        if code in _RETRYABLE or code in _TOKEN_ERRORS:
            return SendResult(Outcome.RETRY, code=str(code))
        return SendResult(Outcome.INVALID, code=str(code))  # 43101, 47003, 41030 …

    async def aclose(self) -> None:
        await self._http.aclose()
