"""Persisted operations: the `.graphql` files clients ship, addressed by their SHA-256.

GET /graphql runs only these (so GET responses are cacheable and cannot be used to run arbitrary
queries through a link); POST accepts them too, to save clients sending the text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "graphql" / "operations"


def operation_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_operations(directory: Path = DEFAULT_DIR) -> dict[str, str]:
    """SHA-256 hex of each file's exact text → the text."""
    if not directory.is_dir():
        return {}
    operations = {}
    for path in sorted(directory.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        operations[operation_hash(text)] = text
    return operations
