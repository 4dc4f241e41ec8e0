"""The restore drill: snapshot a live embedded database, write more, restore the snapshot and
find exactly what was there at backup time (the later write gone, the old data kept aside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from app.backup import backup, restore
from app.cli import main
from app.embedded_db import EmbeddedDatabase


def test_backup_while_serving_then_restore_brings_back_that_moment(tmp_path: Path) -> None:
    storage = tmp_path / "var" / "db"
    archive = tmp_path / "backups" / "zsb.tar.gz"
    client: MongoClient[dict[str, Any]]
    log = tmp_path / "db.log"
    with EmbeddedDatabase(storage, log_path=log) as db, MongoClient(db.uri) as client:
        client["zsb"]["applications"].insert_many([{"n": i} for i in range(100)])  # type: ignore[misc]
        assert backup(db.uri, archive) > 0  # the server keeps running meanwhile
        client["zsb"]["applications"].insert_one({"n": "after the backup"})  # type: ignore[arg-type]

    kept = restore(archive, storage)
    assert kept is not None
    assert kept.is_dir()  # the data it replaced is set aside, not deleted
    with (
        EmbeddedDatabase(storage, log_path=tmp_path / "db.log") as db,
        MongoClient(db.uri) as client,
    ):
        numbers = client["zsb"]["applications"].distinct("n")
    assert sorted(numbers) == list(range(100))


def test_backup_and_restore_refuse_a_configured_mongodb(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    monkeypatch.setenv("ZSB_MONGODB_URI", "mongodb://db.example:27017/?replicaSet=rs0")
    monkeypatch.setenv("ZSB_DATA_DIR", str(tmp_path))
    assert main(["backup", "--output", str(tmp_path / "x.tar.gz")]) == 1
    assert main(["restore", "--archive", str(tmp_path / "x.tar.gz")]) == 1
    assert "mongodump" in capsys.readouterr().err


def test_a_failed_restore_leaves_the_old_data_serving(tmp_path: Path) -> None:
    storage = tmp_path / "var" / "db"
    archive = tmp_path / "backups" / "zsb.tar.gz"
    client: MongoClient[dict[str, Any]]
    log = tmp_path / "db.log"
    with EmbeddedDatabase(storage, log_path=log) as db, MongoClient(db.uri) as client:
        client["zsb"]["applications"].insert_many([{"n": i} for i in range(10)])  # type: ignore[misc]
        assert backup(db.uri, archive) > 0
        client["zsb"]["applications"].insert_one({"n": "after the backup"})  # type: ignore[arg-type]
    truncated = tmp_path / "backups" / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(RuntimeError):
        restore(truncated, storage)

    assert sorted(p.name for p in storage.parent.iterdir()) == ["db"]  # no half-unpacked leftovers
    with (
        EmbeddedDatabase(storage, log_path=tmp_path / "db.log") as db,
        MongoClient(db.uri) as client,
    ):
        numbers = client["zsb"]["applications"].distinct("n")
    assert sorted(numbers, key=str) == sorted([*range(10), "after the backup"], key=str)
