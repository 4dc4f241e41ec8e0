"""`zsb`: the single entry point (serve, schema, seed, token, keys, dev tools)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

from app.embedded_db import EmbeddedDatabase
from app.observability import configure_logging
from app.settings import ProductionMisconfigured, Settings

T = TypeVar("T")


def _uri_file(settings: Settings) -> Path:
    return settings.data_dir / "db.uri"


def _running_embedded_uri(settings: Settings) -> str | None:
    """The URI of the embedded server a running `zsb serve` started, if it is still alive."""
    path = _uri_file(settings)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    uri = info.get("uri")
    return uri if isinstance(uri, str) else None


@contextlib.contextmanager
def database(settings: Settings, *, announce: bool) -> Iterator[Settings]:
    """Settings pointing at a database: the configured one, the running embedded one, or a new
    embedded server for the duration of the block (the same data directory, so the same data)."""
    if settings.mongodb_uri:
        yield settings
        return
    running = _running_embedded_uri(settings)
    if running and not announce:
        yield settings.model_copy(update={"mongodb_uri": running})
        return
    embedded = EmbeddedDatabase(settings.data_dir / "db", log_path=settings.data_dir / "db.log")
    with embedded:
        if announce:
            _uri_file(settings).write_text(
                json.dumps(
                    {"uri": embedded.uri, "pid": embedded.process.pid if embedded.process else None}
                )
            )
        try:
            yield settings.model_copy(update={"mongodb_uri": embedded.uri})
        finally:
            if announce:
                _uri_file(settings).unlink(missing_ok=True)


def _with_state(settings: Settings, action: Callable[..., Awaitable[T]]) -> T:
    from app.main import build_state, close_state

    async def run() -> T:
        state = await build_state(settings)
        try:
            return await action(state)
        finally:
            await close_state(state)

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app

    settings.check_production()
    # uvicorn drains requests on SIGTERM/SIGINT and then re-raises the signal; turning that into
    # an exception lets the embedded database stop cleanly after the last request, not before.
    signal.signal(signal.SIGTERM, _stop_serving)
    signal.signal(signal.SIGINT, _stop_serving)
    with contextlib.suppress(_StopServing), database(settings, announce=True) as live:
        if args.workers > 1:
            _serve_workers(args, live)
            return 0
        app = create_app(live)
        # One process here: the embedded database belongs to it. Production runs uvicorn
        # --workers against ZSB_MONGODB_URI instead (see the Dockerfile).
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=20,
        )
    return 0


def _serve_workers(args: argparse.Namespace, live: Settings) -> None:
    """Several uvicorn worker processes on one database (the embedded one included): indexes,
    signing keys and demo data are made once here, before the workers start, so they do not
    race to create them; the workers find the database through ZSB_MONGODB_URI."""
    import uvicorn

    from app.main import build_state, close_state

    async def prepare() -> None:
        state = await build_state(live)
        try:
            if live.demo_data_enabled:
                from app.seed import seed_demo_if_needed

                await seed_demo_if_needed(state)
        finally:
            await close_state(state)

    asyncio.run(prepare())
    os.environ["ZSB_MONGODB_URI"] = str(live.mongodb_uri)
    os.environ["ZSB_DEMO_DATA"] = "false"
    # The supervisor turns SIGTERM into SIGTERM for each worker (each drains its requests) and
    # returns once all have exited; the database is stopped after that by `database()`.
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )


class _StopServing(Exception):
    pass


def _stop_serving(signum: int, frame: object) -> None:
    raise _StopServing


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    from app.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from app.seed import seed_demo

    if not args.demo:
        print("nothing to do: pass --demo", file=sys.stderr)
        return 2
    if settings.is_production:
        print("refusing to seed demo data in production", file=sys.stderr)
        return 2
    with database(settings, announce=False) as live:
        _with_state(live, seed_demo)
    print("demo data seeded")
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from app.context import AppState
    from app.errors import DomainError

    async def mint(state: AppState) -> str:
        tokens = await state.auth_service().open_session_for_phone(args.phone, method="cli")
        return tokens.access_token

    with database(settings, announce=False) as live:
        try:
            print(_with_state(live, mint))
        except DomainError as exc:
            print(f"{exc.code}: {exc.message}", file=sys.stderr)
            return 1
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from app.audit import AuditEvent
    from app.context import AppState
    from auth.store import AuthStore
    from electronic_cards.store import CardsStore

    async def rotate(state: AppState) -> list[str]:
        done = []
        if not args.qr:
            kid = await state.token_keys.rotate(AuthStore(state.db))
            await state.audit().record(
                AuditEvent("auth.keys.rotate", None, target=kid, details={"by": "zsb keys rotate"})
            )
            done.append(f"new access-token signing key: {kid}")
        key = await state.sdl_keys.rotate(CardsStore(state.db), timedelta(seconds=args.qr_lead))
        await state.audit().record(
            AuditEvent(
                "electronic_cards.keys.rotate",
                None,
                target=key.kid.hex(),
                details={"activates_at": key.activates_at.isoformat()},
            )
        )
        done.append(
            f"new SDL (亮证 QR) key {key.kid.hex()}: published now, "
            f"signs from {key.activates_at.isoformat()}"
        )
        return done

    with database(settings, announce=False) as live:
        print("\n".join(_with_state(live, rotate)))
    return 0


def cmd_keys_reseal(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from app.context import AppState
    from app.reseal import reseal

    async def run(state: AppState) -> tuple[bool, dict[str, dict[str, int]]]:
        return await reseal(
            state.db, state.keyring, batch=args.batch, limit=args.limit, restart=args.restart
        )

    with database(settings, announce=False) as live:
        complete, totals = _with_state(live, run)
    print(json.dumps({"complete": complete, "totals": totals}, ensure_ascii=False, indent=2))
    left = any(t.get("unreadable") or t.get("conflicts") for t in totals.values())
    return 0 if complete and not left else 1


def cmd_verify_qr(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from electronic_cards.offline import OfflineResult, verify_text
    from electronic_cards.sdl1 import MalformedTokenError

    async def check() -> OfflineResult:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await verify_text(args.text, client, args.base_url)

    try:
        outcome = asyncio.run(check())
    except (httpx.HTTPError, MalformedTokenError, ValueError) as exc:
        print(f"error: cannot fetch or check the published material: {exc}", file=sys.stderr)
        return 2
    print(f"result={outcome.result.value}")
    print(f"mode={outcome.label}")
    for name, value in outcome.fields.items():
        print(f"{name}={value}")
    if outcome.note:
        print(f"note={outcome.note}")
    return 0 if outcome.result.value == "VALID" else 1


def cmd_dev_sms(args: argparse.Namespace, settings: Settings) -> int:
    from app.context import AppState
    from auth.identity_numbers import normalize_phone
    from auth.store import AuthStore

    async def latest(state: AppState) -> str | None:
        doc = await AuthStore(state.db).latest_dev_sms(normalize_phone(args.phone))
        return None if doc is None else f"{doc['sent_at'].isoformat()} {doc['text']}"

    with database(settings, announce=False) as live:
        message = _with_state(live, latest)
    if message is None:
        print("no message recorded for that phone", file=sys.stderr)
        return 1
    print(message)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from notifications.runner import run_worker
    from notifications.worker import DispatchConfig

    config = DispatchConfig(
        lease_seconds=args.lease_seconds,
        concurrency=args.concurrency,
        jobs_in_flight=args.concurrency,
        chunk_size=args.chunk_size,
    )
    with database(settings, announce=False) as live:
        _with_state(live, lambda state: run_worker(state, config, once=args.once))
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from app.backup import backup

    if settings.mongodb_uri:
        print("ZSB_MONGODB_URI is set: back up MongoDB with mongodump (docs)", file=sys.stderr)
        return 1
    with database(settings, announce=False) as live:
        size = backup(str(live.mongodb_uri), Path(args.output))
    print(f"backup written: {args.output} ({size} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from app.backup import restore

    if settings.mongodb_uri:
        print("ZSB_MONGODB_URI is set: restore MongoDB with mongorestore (docs)", file=sys.stderr)
        return 1
    if _running_embedded_uri(settings):
        print("stop `zsb serve` (and workers) before restoring", file=sys.stderr)
        return 1
    kept = restore(Path(args.archive), settings.data_dir / "db")
    print(f"restored {args.archive} into {settings.data_dir / 'db'}")
    if kept is not None:
        print(f"the previous data is kept in {kept}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zsb", description="掌上办 back-end")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (embedded database unless ZSB_MONGODB_URI)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the one database"
    )
    serve.set_defaults(run=cmd_serve)

    sub.add_parser("schema", help="print the GraphQL SDL").set_defaults(run=cmd_schema)

    seed = sub.add_parser("seed", help="load demo data (idempotent)")
    seed.add_argument("--demo", action="store_true")
    seed.set_defaults(run=cmd_seed)

    token = sub.add_parser("token", help="print an access token for an existing user")
    token.add_argument("--phone", required=True)
    token.set_defaults(run=cmd_token)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys", required=True)
    rotate = keys.add_parser("rotate", help="start signing with new keys")
    rotate.add_argument("--qr", action="store_true", help="rotate only the SDL (亮证 QR) key")
    rotate.add_argument(
        "--qr-lead",
        type=int,
        default=86_400,
        help="seconds the new QR key is published before it signs (verifiers refresh daily)",
    )
    rotate.set_defaults(run=cmd_keys_rotate)
    reseal = keys.add_parser(
        "reseal",
        help="re-encrypt sealed personal data and signing keys under the current ZSB_SECRET_KEY "
        "(after a rotation; the previous secret in ZSB_READ_SECRET_KEYS); also seals application "
        "forms stored before forms were sealed; resumable",
    )
    reseal.add_argument("--batch", type=int, default=200, help="documents per batch")
    reseal.add_argument("--limit", type=int, default=None, help="stop after this many documents")
    reseal.add_argument(
        "--restart", action="store_true", help="walk everything again from the start"
    )
    reseal.set_defaults(run=cmd_keys_reseal)

    verify_qr = sub.add_parser(
        "verify-qr", help="check a 亮证 token with only the published keys and status lists"
    )
    verify_qr.add_argument("text")
    verify_qr.add_argument("--base-url", required=True)
    verify_qr.set_defaults(run=cmd_verify_qr)

    worker = sub.add_parser("worker", help="deliver notifications (run any number of these)")
    worker.add_argument("--concurrency", type=int, default=8, help="provider batches in flight")
    worker.add_argument("--lease-seconds", type=float, default=60.0)
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.add_argument("--chunk-size", type=int, default=500, help="recipients per campaign job")
    worker.set_defaults(run=cmd_worker)

    backup = sub.add_parser("backup", help="snapshot the embedded database (while serving)")
    backup.add_argument("--output", required=True, help="the .tar.gz to write")
    backup.set_defaults(run=cmd_backup)
    restore = sub.add_parser("restore", help="put a snapshot back (the service stopped)")
    restore.add_argument("--archive", required=True, help="a .tar.gz from `zsb backup`")
    restore.set_defaults(run=cmd_restore)

    dev = sub.add_parser("dev", help="dev-only tools").add_subparsers(dest="dev", required=True)
    sms = dev.add_parser("sms", help="show the last SMS the dev sender recorded for a phone")
    sms.add_argument("--phone", required=True)
    sms.set_defaults(run=cmd_dev_sms)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level if args.command in ("serve", "worker") else "WARNING")
    try:
        code: int = args.run(args, settings)
    except ProductionMisconfigured as exc:
        print(f"refusing to start in production: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
