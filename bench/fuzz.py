"""Schema-driven fuzzing of `/graphql` (schemathesis), longer than the suite's quick form.

    python bench/fuzz.py            # 200 examples per operation, up to 20 minutes
    python bench/fuzz.py --quick    # 30 examples per operation, under three minutes

The service runs as its own uvicorn process with the demo data on an embedded SecantusDB; the
roles' sessions are opened as `zsb token` opens them. Every Query and Mutation root field is
fuzzed, each example as a role drawn at random (anonymous, citizen, clerk, operator, verifier,
admin). Prints `name=value` lines and every distinct finding; exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.embedded_db import EmbeddedDatabase  # noqa: E402
from tests.security import fuzzing  # noqa: E402
from tests.security.roles import ROLE_PHONES  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120  # the first start seeds the demo data
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("server exited") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


SPARE_SESSIONS = 40  # per role, for `logout` examples (each ends the session it runs in)


def mint_tokens(env: dict[str, str]) -> dict[str, list[str]]:
    """Sessions for every role, opened the way `zsb token` does, in one process."""
    from app.main import build_state, close_state
    from app.settings import Settings

    settings = Settings.model_validate(
        {k[4:].lower(): v for k, v in env.items() if k.startswith("ZSB_")}
    )

    async def mint() -> dict[str, list[str]]:
        state = await build_state(settings)
        try:
            auth = state.auth_service()
            return {
                role: [
                    (await auth.open_session_for_phone(phone, method="cli")).access_token
                    for _ in range(SPARE_SESSIONS + 1)
                ]
                for role, phone in ROLE_PHONES.items()
                if phone
            }
        finally:
            await close_state(state)

    return asyncio.run(mint())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    examples, budget = (30, 150.0) if args.quick else (200, 1200.0)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        env = {
            **os.environ,
            "ZSB_MONGODB_URI": db.uri,
            "ZSB_DATABASE_NAME": "bench_fuzz",
            "ZSB_DATA_DIR": tmp,
            "ZSB_DEMO_DATA": "true",
            "ZSB_DEV_ISSUER": "false",
            "ZSB_RATE_LIMITS": "off",
            "ZSB_LOG_LEVEL": "WARNING",
            "ZSB_SECRET_KEY": "bench-" + "k" * 40,
        }
        port = free_port()
        server = start_server(env, port)
        try:
            t0 = time.monotonic()
            minted = mint_tokens(env)
            tokens: dict[str, str | None] = {r: None for r in ROLE_PHONES}
            tokens.update({r: pool.pop() for r, pool in minted.items()})
            print(f"sign_in_seconds={time.monotonic() - t0:.1f}")
            report = fuzzing.run(
                f"http://127.0.0.1:{port}",
                tokens,
                examples=examples,
                budget_seconds=budget,
                fresh_token=lambda role: minted[role].pop() if minted[role] else tokens[role],
                seed=args.seed,
            )
        finally:
            server.terminate()
            server.wait(30)
    print(f"fuzz_operations={len(report.per_operation)}")
    print(f"fuzz_requests={report.requests}")
    print(f"fuzz_seconds={report.seconds:.1f}")
    print(f"fuzz_requests_per_second={report.requests / max(report.seconds, 0.001):.0f}")
    print(f"fuzz_findings={len(report.findings)}")
    if report.findings:
        print(fuzzing.summary(report))
    return 1 if report.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
