"""`zsb backup` / `zsb restore`: a consistent snapshot of the embedded database, and putting
one back. For a MongoDB replica set use mongodump/mongorestore or volume snapshots instead
(docs/operations.md).

The backup asks the running SecantusDB for a checkpointed archive of its storage over the wire
(`secantusAdmin.backupArchive`), so the service keeps serving. Restoring unpacks an archive
offline with SecantusDB's own `secantus.restore_cli`, run as a separate program (SecantusDB is
GPL-2.0-only and is never imported here); the previous data directory is kept aside, not
deleted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient


def backup(uri: str, output: Path) -> int:
    """Write a .tar.gz snapshot of the embedded database at `uri`; returns its size in bytes."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    client: MongoClient[dict[str, object]]
    with MongoClient(uri, serverSelectionTimeoutMS=5_000) as client:
        reply = client.admin.command({"secantusAdmin.backupArchive": 1, "outputPath": str(output)})
    return int(reply["sizeBytes"])


def restore(archive: Path, storage: Path) -> Path | None:
    """Unpack `archive` as the database directory `storage`; returns where the old one went.

    The archive is unpacked into a fresh sibling directory and only renamed into place once the
    restore program succeeded, so a corrupt or truncated archive leaves `storage` exactly as it
    was (the next `zsb serve` starts on the old data, never on a half-restored directory).
    """
    if not archive.is_file():
        raise FileNotFoundError(archive)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    staging = storage.with_name(f"{storage.name}.restoring-{stamp}-{os.getpid()}")
    storage.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "secantus.restore_cli", "--archive", str(archive)]
    done = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [*command, "--target-dir", str(staging)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)  # only ever our own partial unpack
        raise RuntimeError(done.stderr.strip() or "restore failed")
    kept = None
    if storage.exists():
        kept = storage.with_name(f"{storage.name}.before-restore-{stamp}")
        storage.rename(kept)
    staging.rename(storage)  # same parent directory: an atomic rename
    return kept
