"""A lean FCM v1 stand-in for bench/fanout.py: the same wire protocol as `fcm_standin`, minus
the framework, in several processes, so the stand-in is not what the benchmark measures.

Why not the Starlette stand-in: one Starlette/uvicorn process answered a few hundred
`messages:send` requests per second on this machine, about what firebase-admin can send, so the
benchmark measured the stand-in. This one parses HTTP/1.1 by hand on an `asyncio.Protocol`
(keep-alive, Content-Length bodies: exactly what httpx sends), answers the OAuth `token_uri`
with a verified RS256 grant like `FcmStandIn.token`, and answers `messages:send` with the same
prefix-chosen outcomes (`failure_for`). Several processes share one port through SO_REUSEPORT;
the number accepted is a shared counter that `GET /stats` reports.

A token's "first attempt" (quota-, flaky-, garbage- prefixes) is counted per process, so those
outcomes are only deterministic with `--processes 1`; the benchmark uses plain tokens.

    python -m tests.notifications.fcm_fast --port P --credentials sa.json [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import sys
import urllib.parse
from collections import Counter
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import cast

import jwt

from tests.notifications.fcm_standin import GOOGLE_TOKEN, PROJECT, FcmStandIn, failure_for

_SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden"}
_REASONS |= {404: b"Not Found", 429: b"Too Many Requests", 500: b"Internal Server Error"}


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Status"))]
    fields = {"Content-Type": "application/json", **(headers or {})}
    fields["Content-Length"] = str(len(body))
    head += [f"{k}: {v}".encode() for k, v in fields.items()]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _Handler:
    """The answers, shared by every connection of one process."""

    def __init__(self, standin: FcmStandIn, accepted: Synchronized[int]) -> None:
        self.standin = standin
        self.accepted = accepted
        self.attempts: Counter[str] = Counter()
        self.bearer = f"Bearer {standin.access_token}".encode()

    def answer(self, method: bytes, path: bytes, auth: bytes | None, body: bytes) -> bytes:
        if method == b"POST" and path == _SEND_PATH.encode():
            return self.send(auth, body)
        if method == b"POST" and path == b"/token":
            return self.token(body)
        if method == b"GET" and path == b"/stats":
            return _response(200, json.dumps({"accepted": self.accepted.value}).encode())
        return _response(404, b'{"error": "not found"}')

    def send(self, auth: bytes | None, body: bytes) -> bytes:
        if auth != self.bearer:
            return _response(401, b'{"error": {"code": 401, "status": "UNAUTHENTICATED"}}')
        token = str(json.loads(body).get("message", {}).get("token", ""))
        self.attempts[token] += 1
        failure = failure_for(token, self.attempts[token] == 1)
        if failure is not None:
            status, headers, content = failure
            return _response(status, content, headers)
        with self.accepted.get_lock():  # cheap beside the HTTP work; /stats stays exact
            self.accepted.value += 1
        name = f"projects/{PROJECT}/messages/{os.getpid()}-{self.attempts.total()}"
        return _response(200, json.dumps({"name": name}).encode())

    def token(self, body: bytes) -> bytes:
        form = urllib.parse.parse_qs(body.decode())
        assertion = form.get("assertion", [""])[0]
        try:
            jwt.decode(
                assertion, self.standin.public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN
            )
        except jwt.PyJWTError:
            return _response(400, b'{"error": "invalid_grant"}')
        grant = {"access_token": self.standin.access_token, "expires_in": 3600}
        return _response(200, json.dumps({**grant, "token_type": "Bearer"}).encode())


class _Connection(asyncio.Protocol):
    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].split(b"\r\n")
            method, path, _ = lines[0].split(b" ", 2)
            length, auth = 0, None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"authorization":
                    auth = value.strip()
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(self.handler.answer(method, path, auth, body))


def _serve(port: int, standin: FcmStandIn, accepted: Synchronized[int]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    handler = _Handler(standin, accepted)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(handler), sock=sock)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(main())


def main() -> None:  # pragma: no cover - run by bench/fanout.py
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--credentials", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    standin = FcmStandIn()
    standin.base_url = f"http://127.0.0.1:{args.port}"
    standin.service_account(args.credentials)
    ctx = multiprocessing.get_context("fork")
    accepted: Synchronized[int] = ctx.Value("q", 0)
    procs = [
        ctx.Process(target=_serve, args=(args.port, standin, accepted))
        for _ in range(args.processes)
    ]
    for p in procs:
        p.start()

    def stop(*_: object) -> None:
        for p in procs:
            if p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True, file=sys.stderr)
    for p in procs:
        p.join()


if __name__ == "__main__":
    main()
