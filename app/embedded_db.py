"""The embedded database: a SecantusDB server in its own process on a free loopback port.

SecantusDB is GPL-2.0-only, so it is only ever run as a separate program and spoken to over the
MongoDB wire protocol; nothing here imports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

_LISTENING = re.compile(rb"listening on ([\d.]+):(\d+)")
_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    pass


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If the service is killed outright, the kernel stops the database too: no orphan process.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedDatabase:
    """Start with `with EmbeddedDatabase(path) as db: db.uri`; the server stops on exit."""

    def __init__(
        self,
        storage_path: Path | None,
        *,
        log_path: Path | None = None,
        test_commands: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        self.storage_path = storage_path
        self.log_path = log_path or (
            storage_path.parent / "secantus.log" if storage_path else Path("secantus.log")
        )
        self.test_commands = test_commands
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def uri(self) -> str:
        if self.port is None:
            raise EmbeddedDatabaseError("the embedded database is not running")
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, port: int = 0) -> str:
        """Start the server on `port` (0: any free port; the fault drills pass the previous
        one so clients reconnect by themselves)."""
        if importlib.util.find_spec("secantus") is None:
            raise EmbeddedDatabaseError(
                "SecantusDB is not installed: `pip install -e '.[embedded]'` "
                "or set ZSB_MONGODB_URI to a MongoDB server"
            )
        storage = ":memory:" if self.storage_path is None else str(self.storage_path)
        if self.storage_path is not None:
            self.storage_path.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)]
        args += ["--storage-path", storage, "--log-level", "INFO"]
        if self.test_commands:
            args.append("--enable-test-commands")
        # Open the log with O_APPEND semantics so a restart keeps the history readable.
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                args,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                stdin=subprocess.DEVNULL,
                # Its own process group: a Ctrl-C at the terminal reaches only the service,
                # which drains its requests and then stops the database itself.
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.port = self._wait_for_port(offset)
        log.info("embedded database listening", extra={"port": self.port, "storage": storage})
        return self.uri

    def _wait_for_port(self, offset: int) -> int:
        if self.process is None:
            raise EmbeddedDatabaseError("the embedded database was not started")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"SecantusDB exited with {self.process.returncode}; see {self.log_path}"
                )
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                # The server announces the port it bound (we ask for port 0) at INFO level.
                match = _LISTENING.search(fh.read())
            if match:
                return int(match.group(2))
            time.sleep(0.05)
        self.stop()
        raise EmbeddedDatabaseError(f"SecantusDB did not start within {self.start_timeout}s")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM lets WiredTiger close its files cleanly; SIGKILL only if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("embedded database did not stop in %ss; killing it", timeout)
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedDatabase:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
