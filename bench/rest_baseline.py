"""The baseline for bench/guides.py: a plain FastAPI route returning the same guide as JSON.

It reads the published guide through the same store (one indexed find_one per request) and
returns it with FastAPI's ordinary JSON response: what a hand-written REST endpoint would do.
Run by the benchmark as `uvicorn rest_baseline:app --app-dir bench`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException

from app.db import connect
from matters.store import MatterStore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    client = connect(os.environ["ZSB_MONGODB_URI"])
    app.state.store = MatterStore(client[os.environ.get("ZSB_DATABASE_NAME", "zsb")])
    yield
    await client.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/matters/{code}")
async def matter(code: str) -> dict[str, Any]:
    record = await app.state.store.published(code)
    if record is None:
        raise HTTPException(404, "no such matter")
    guide: dict[str, Any] = record.matter.model_dump(mode="json")
    guide.update(
        version=record.version,
        status=record.status.value,
        updated_at=record.updated_at.isoformat(),
        published_at=record.published_at.isoformat() if record.published_at else None,
    )
    return {"matter": guide}
