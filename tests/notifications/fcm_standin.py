"""An FCM-compatible HTTP server for 127.0.0.1: the OAuth token endpoint a service account's
`token_uri` names, and `POST /v1/projects/<p>/messages:send` answering like FCM v1 does.

What it answers depends on the token's prefix, so a test chooses outcomes per device:
  unreg-…    404 NOT_FOUND with FcmError UNREGISTERED (the app was uninstalled)
  invalid-…  400 INVALID_ARGUMENT "The registration token is not a valid FCM registration token"
  quota-…    429 QUOTA_EXCEEDED with Retry-After: 7 the first time, then success
  flaky-…    500 INTERNAL the first time, then success
  garbage-…  200 with a body that is not JSON the first time, then success
  anything else: success, {"name": "projects/<p>/messages/<n>"}
Used by the tests and by bench/fanout.py (run as its own process there).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PROJECT = "zsb-test"
QUOTA_RETRY_AFTER = 7
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"


def error_answer(
    status: int, grpc: str, message: str, fcm_code: str | None
) -> tuple[int, dict[str, str], bytes]:
    """An FCM v1 error answer: status, headers, JSON body (shared with the lean bench server)."""
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
        if fcm_code
        else []
    )
    body = {"error": {"code": status, "message": message, "status": grpc, "details": details}}
    headers = {"Content-Type": "application/json"}
    if status == 429:
        headers["Retry-After"] = str(QUOTA_RETRY_AFTER)
    return status, headers, json.dumps(body).encode()


def failure_for(token: str, first: bool) -> tuple[int, dict[str, str], bytes] | None:
    """What FCM answers for this device token, chosen by its prefix; None means success."""
    if token.startswith("unreg-"):
        return error_answer(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
    if token.startswith("invalid-"):
        return error_answer(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
        )
    if first and token.startswith("quota-"):
        return error_answer(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED")
    if first and token.startswith("flaky-"):
        return error_answer(500, "INTERNAL", "Internal error.", "INTERNAL")
    if first and token.startswith("garbage-"):
        return 200, {"Content-Type": "text/plain"}, b"<html>502 Bad Gateway</html>"
    return None


def _error(status: int, grpc: str, message: str, fcm_code: str | None) -> Response:
    code, headers, body = error_answer(status, grpc, message, fcm_code)
    return Response(body, status_code=code, headers=headers)


class FcmStandIn:
    def __init__(self, delay: float = 0.0) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_key = key.public_key()
        self.delay = delay
        # An outage for every token while set: "500" (INTERNAL), "garbage" (a 200 that is not
        # JSON); None answers normally. `delay` makes answers slow (timeouts).
        self.outage: str | None = None
        self.in_flight = 0  # slow answers still being prepared (a test waits for them)
        self.base_url = ""  # set once the server's port is known
        self.access_token = "ya29.standin-" + str(id(self))
        self.accepted: list[dict[str, Any]] = []  # messages answered with success
        self.attempts: Counter[str] = Counter()  # requests per device token
        self.token_requests = 0
        self.unauthorised = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self.send, methods=["POST"]),
            ]
        )

    def service_account(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": PROJECT,
                    "private_key_id": "standin-key",
                    "private_key": self._private_pem,
                    "client_email": f"push@{PROJECT}.iam.gserviceaccount.com",
                    "client_id": "1",
                    "token_uri": f"{self.base_url}/token",
                }
            )
        )
        return path

    async def token(self, request: Request) -> Response:
        form = await request.form()
        assertion = str(form.get("assertion", ""))
        try:  # a real JWT bearer grant, signed with the service account's key
            # google-auth posts to `token_uri` but keeps Google's own endpoint as the audience.
            jwt.decode(assertion, self.public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN)
        except jwt.PyJWTError:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.token_requests += 1
        return JSONResponse(
            {"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"}
        )

    def tokens_accepted(self) -> list[str]:
        with self._lock:
            return [m["token"] for m in self.accepted]

    async def send(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            self.unauthorised += 1
            return _error(401, "UNAUTHENTICATED", "Request had invalid credentials.", None)
        if request.path_params["project"] != PROJECT:
            return _error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        body = await request.json()  # the request arrives whole; the answer is what is slow
        if self.delay:
            self.in_flight += 1  # one event loop: no lock needed for this counter
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
        message = body.get("message", {})
        token = str(message.get("token", ""))
        with self._lock:
            self.attempts[token] += 1
            first = self.attempts[token] == 1
        if self.outage == "500":
            return _error(500, "INTERNAL", "Internal error.", "INTERNAL")
        if self.outage == "garbage":
            return Response(b"<html>502 Bad Gateway</html>", headers={"Content-Type": "text/html"})
        failure = failure_for(token, first)
        if failure is not None:
            status, headers, content = failure
            return Response(content, status_code=status, headers=headers)
        with self._lock:
            self.accepted.append({"token": token, "message": message, "at": time.time()})
            n = next(self._ids)
        return JSONResponse({"name": f"projects/{PROJECT}/messages/{n}"})


def main() -> None:  # pragma: no cover - `python -m tests.notifications.fcm_standin` for bench
    import argparse
    import sys

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--credentials", type=Path, required=True)
    args = parser.parse_args()
    standin = FcmStandIn()
    standin.base_url = f"http://127.0.0.1:{args.port}"
    standin.service_account(args.credentials)

    async def count(request: Request) -> Response:
        return JSONResponse({"accepted": len(standin.accepted)})

    standin.app.router.routes.append(Route("/stats", count))
    print("ready", flush=True, file=sys.stderr)
    uvicorn.run(standin.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
