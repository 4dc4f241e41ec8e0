"""FCM through the real firebase-admin client (`messaging.send_each_async`, ≤ 500 a call).

Two adjustments to firebase-admin, both on its messaging service object, both documented in
docs/notifications.md:

- Endpoint. firebase-admin has no option for the FCM URL (there is no FCM emulator); the
  messaging service keeps it in the instance attribute `_fcm_url`, built from the class constant
  `FCM_URL` in `__init__`. We set that attribute from `ZSB_FCM_ENDPOINT` on our own app's
  service only — patching the class constant would redirect every app in the process. A test
  pins the attribute name, so a firebase-admin upgrade that renames it fails loudly.
- Retries. Its async client retries 500/503 four times with back-off inside one call. The
  outbox owns retries (with the lease, jitter, Retry-After and the attempt budget), so our
  service gets an async client with retries off; otherwise a batch could sit 7 s in a hidden
  loop while its lease runs.

The OAuth token comes from the service account's `token_uri`. google-auth refreshes it with a
blocking `requests` call inside the httpx auth flow, so we fetch it once in a worker thread at
start; afterwards the refresh blocks the loop briefly about once an hour.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import firebase_admin
from firebase_admin import _http_client, credentials, exceptions, messaging
from firebase_admin._retry import HttpxRetry
from google.auth.transport.requests import Request as GoogleAuthRequest

from notifications.models import Provider
from notifications.providers.base import Outcome, PushMessage, SendResult, parse_retry_after

FCM_MAX_BATCH = 500
POOL_SIZE = 100  # httpx's default connection limit, which firebase-admin keeps


def fcm_url(endpoint: str, project_id: str) -> str:
    return f"{endpoint.rstrip('/')}/v1/projects/{project_id}/messages:send"


class FcmProvider:
    provider = Provider.FCM
    max_batch = FCM_MAX_BATCH

    def __init__(self, app: firebase_admin.App, service: Any) -> None:
        self.app = app
        self._service = service
        self._slots = asyncio.Semaphore(1)

    @classmethod
    async def create(
        cls, credentials_path: Path, endpoint: str | None = None, *, http_timeout: float = 10.0
    ) -> FcmProvider:
        cert = credentials.Certificate(str(credentials_path))
        # A named app per provider: tests and several settings in one process never collide.
        app = firebase_admin.initialize_app(
            cert, {"httpTimeout": http_timeout}, name=f"zsb-fcm-{uuid.uuid4().hex[:8]}"
        )
        service = messaging._get_messaging_service(app)
        if endpoint:
            service._fcm_url = fcm_url(endpoint, app.project_id)
        unused = service._async_client
        service._async_client = _http_client.HttpxAsyncClient(
            credential=service._credential,
            timeout=http_timeout,
            retry_config=HttpxRetry(max_retries=0),
        )
        await unused.aclose()
        await asyncio.to_thread(service._credential.refresh, GoogleAuthRequest())
        return cls(app, service)

    @property
    def url(self) -> str:
        return str(self._service._fcm_url)

    async def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        if not messages:
            return []
        results: list[SendResult] = []
        # send_each_async starts every request of its list at once, but its httpx client holds
        # 100 connections and counts the wait for one against the timeout: 500 at once time out
        # in the queue. One slice of POOL_SIZE at a time per process keeps every request on a
        # live connection; more throughput comes from more worker processes.
        for start in range(0, len(messages), POOL_SIZE):
            async with self._slots:
                results += await self._send_slice(messages[start : start + POOL_SIZE])
        return results

    async def _send_slice(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        fcm_messages = [_to_fcm(m) for m in messages]
        try:
            batch = await messaging.send_each_async(fcm_messages, app=self.app)
        except exceptions.FirebaseError as exc:
            # firebase-admin turns a garbage answer (a 200 that is not JSON) into one error for
            # the whole call: nothing was recorded as accepted, so all of it is retried.
            return [SendResult(Outcome.RETRY, code=f"BATCH:{exc.code}") for _ in messages]
        return [_result(r) for r in batch.responses]

    async def aclose(self) -> None:
        await self._service._async_client.aclose()
        # delete_app closes the service with asyncio.run(), which needs a thread without a
        # running loop; the client it closes there is already closed.
        await asyncio.to_thread(firebase_admin.delete_app, self.app)


def _to_fcm(m: PushMessage) -> messaging.Message:
    data = {"category": m.category, **m.data}
    if m.deep_link:
        data["deepLink"] = m.deep_link
    with warnings.catch_warnings():
        # firebase-admin 7.7 deprecates `token` for `fid` (installation ids); the apps register
        # FCM registration tokens, which FCM v1 still takes as `message.token`.
        warnings.filterwarnings("ignore", "Message.token is deprecated", DeprecationWarning)
        return _message(m, data)


def _message(m: PushMessage, data: dict[str, str]) -> messaging.Message:
    return messaging.Message(
        token=m.token,
        notification=messaging.Notification(title=m.title, body=m.body),
        data=data,
        android=messaging.AndroidConfig(
            # A phone shows only the latest status of a case, not a stack of them.
            collapse_key=m.data.get("collapseKey"),
            priority="high" if m.category != "POLICY" else "normal",
        ),
    )


def _result(response: messaging.SendResponse) -> SendResult:
    if response.success:
        return SendResult(Outcome.ACCEPTED)
    exc = response.exception
    if isinstance(exc, (messaging.UnregisteredError, messaging.SenderIdMismatchError)):
        return SendResult(Outcome.UNREGISTERED, code=_fcm_code(exc))
    if isinstance(exc, exceptions.InvalidArgumentError):
        # INVALID_ARGUMENT for a token FCM cannot parse means the token is dead too; for
        # anything else it is our bug, and retrying the same payload cannot help.
        text = str(exc).lower()
        outcome = Outcome.UNREGISTERED if "token" in text else Outcome.INVALID
        return SendResult(outcome, code="INVALID_ARGUMENT")
    retry_after = None
    response_obj = getattr(exc, "http_response", None)
    if response_obj is not None:
        retry_after = parse_retry_after(response_obj.headers.get("retry-after"))
    code = _fcm_code(exc) if isinstance(exc, exceptions.FirebaseError) else "UNKNOWN"
    return SendResult(Outcome.RETRY, code=code, retry_after=retry_after)


def _fcm_code(exc: exceptions.FirebaseError) -> str:
    names = {
        messaging.UnregisteredError: "UNREGISTERED",
        messaging.SenderIdMismatchError: "SENDER_ID_MISMATCH",
        messaging.QuotaExceededError: "QUOTA_EXCEEDED",
    }
    for cls, name in names.items():
        if isinstance(exc, cls):
            return name
    return str(exc.code)
