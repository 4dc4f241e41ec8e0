"""A pytest plugin that watches every log line and GraphQL response of the whole suite for
unmasked personal data: the demo people's identity numbers and mobile numbers.

Registered in tests/conftest.py (`pytest_plugins`). It costs one regex search per log line and
per response. A test during which personal data leaked gets an error at teardown naming the log
line or the response path.

What is allowed (docs/security.md, "Personal data in logs and responses"):
- Log lines: never a full identity number or a full mobile number (masked forms only).
- Responses: a full identity number or mobile number only where the person it belongs to (or the
  clerk processing their case) is shown data they typed or asked for: form data (`form`,
  `applicationPrefill`, drafts), and the person's own data export (`exportMyData`); and where
  the holder consented to release them: `grantedLicence` (授权用证: a verifier of the organisation
  the holder granted, until expiry or revocation, each fetch a usage record; requirement C13);
  and `shippingLabel` (打印面单: the postal address the applicant gave for posting the result, to
  a clerk of the handling department writing the waybill, until receipt; each read audited).
  Everywhere else (`me`, licences, verification results, usage records, errors...) masked.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app import main as app_main
from app.observability import JsonFormatter
from app.seed import DEMO_USERS

# Response keys under which a person's own full numbers may appear (see the module docstring).
ALLOWED_KEYS = frozenset(
    {"form", "applicationPrefill", "exportMyData", "grantedLicence", "shippingLabel"}
)

_SECRETS = sorted(
    {s.id_number for s in DEMO_USERS if s.id_number} | {s.phone for s in DEMO_USERS},
    key=len,
    reverse=True,
)
# A demo number as a whole token: not a part of a longer digit run (ids, hashes, timestamps).
PATTERN = re.compile(r"(?<![0-9A-Za-z])(?:" + "|".join(map(re.escape, _SECRETS)) + r")(?![0-9])")

_found: list[str] = []


class _LogScanner(logging.Handler):
    """Formats each record as the service writes it (JSON, extras included) and scans it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a broken record is not this plugin's business
            return
        match = PATTERN.search(line)
        if match:
            _found.append(f"log line ({record.name}) holds {match.group()}: {line[:300]}")


_scanner = _LogScanner()


def _attach() -> None:
    root = logging.getLogger()
    if _scanner not in root.handlers:
        root.addHandler(_scanner)
    # The service's own handler keeps the configured level; the scanner sees INFO too.
    for handler in root.handlers:
        if handler is not _scanner and handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)


def _leaks(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaks(inner, (*path, str(key)))
    elif isinstance(value, list):
        for inner in value:
            yield from _leaks(inner, path)
    elif isinstance(value, str):
        match = PATTERN.search(value)
        if match and not ALLOWED_KEYS.intersection(path):
            yield f"response {'.'.join(path)} holds {match.group()}"


def scan_response(body: bytes) -> list[str]:
    if not PATTERN.search(body.decode("utf-8", "replace")):
        return []  # the common case: one search, no parsing
    try:
        payload = json.loads(body)
    except ValueError:
        return ["non-JSON response holds a demo number"]
    return list(_leaks(payload, ()))


_original_handle = httpx.ASGITransport.handle_async_request
_original_configure = app_main.configure_logging  # type: ignore[attr-defined]


async def _scanning_handle(self: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
    response = await _original_handle(self, request)
    if request.url.path.startswith("/graphql"):
        body = await response.aread()
        _found.extend(scan_response(body))
    return response


def _configure_and_attach(level: str = "INFO") -> None:
    _original_configure(level)
    _attach()


def pytest_configure(config: pytest.Config) -> None:
    httpx.ASGITransport.handle_async_request = _scanning_handle  # type: ignore[method-assign]
    # create_app configures logging (replacing the root handlers): re-attach after it
    app_main.configure_logging = _configure_and_attach  # type: ignore[attr-defined]
    _attach()


@pytest.fixture(autouse=True)
def personal_data_guard() -> Iterator[None]:
    """Fails the test (at teardown) if personal data reached a log line or a response."""
    _found.clear()
    _attach()  # `zsb` commands run in-process (tests/app/test_cli.py) reset the root logger
    yield
    if _found:
        leaks = list(dict.fromkeys(_found))[:5]
        _found.clear()
        pytest.fail("personal data unmasked:\n" + "\n".join(leaks), pytrace=False)
