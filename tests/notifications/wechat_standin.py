"""A WeChat-API-compatible server for 127.0.0.1: `stable_token` and `subscribe/send`.

Answers by openid prefix: `refuse…` 43101 (no consent left), `gone…` 40003 (bad openid);
anything else 0. `expire_next()` makes the next send answer 42001 (token expired), as WeChat
does when another caller forced a refresh.
"""

from __future__ import annotations

import itertools
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

APPID = "wx0123456789abcdef"
SECRET = "s" * 32


class WeChatStandIn:
    def __init__(self) -> None:
        self._tokens = itertools.count(1)
        self.token = ""
        self.token_requests = 0
        self.sent: list[dict[str, Any]] = []
        self._expire_next = False
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/stable_token", self.stable_token, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/send", self.send, methods=["POST"]),
            ]
        )

    def expire_next(self) -> None:
        self._expire_next = True

    async def stable_token(self, request: Request) -> Response:
        body = await request.json()
        if (body.get("appid"), body.get("secret")) != (APPID, SECRET):
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_requests += 1
        if body.get("force_refresh") or not self.token:
            self.token = f"wx-token-{next(self._tokens)}"
        return JSONResponse({"access_token": self.token, "expires_in": 7200})

    async def send(self, request: Request) -> Response:
        if request.query_params.get("access_token") != self.token or self._expire_next:
            self._expire_next = False
            return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})
        body = await request.json()
        openid = str(body.get("touser", ""))
        values = [v.get("value", "") for v in body.get("data", {}).values()]
        if any(len(v) > 20 for v in values):
            return JSONResponse({"errcode": 47003, "errmsg": "argument invalid! data.thing"})
        if openid.startswith("refuse"):
            return JSONResponse({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        if openid.startswith("gone"):
            return JSONResponse({"errcode": 40003, "errmsg": "invalid openid"})
        self.sent.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)})
