"""Guide reads and search: GraphQL (GET persisted, cached) against a plain REST route, and
searchMatters latency over a 10,000-matter catalogue.

    python bench/guides.py            # full: 30 s per load phase, 2,000 searches
    python bench/guides.py --quick    # under three minutes: 8 s per phase, 600 searches

Both servers run under uvicorn (one worker each) on 127.0.0.1 against the same embedded
SecantusDB, and are driven by the same in-process asyncio load generator (raw HTTP/1.1 keep-alive
connections, far lighter than an HTTP library, so the client is not the bottleneck it would be
with httpx). Everything shares this machine's cores, so read the ratios, not the absolute rates.
Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import connect  # noqa: E402
from app.embedded_db import EmbeddedDatabase  # noqa: E402
from app.persisted import DEFAULT_DIR, operation_hash  # noqa: E402
from matters import demo  # noqa: E402
from matters.search import SearchIndex  # noqa: E402
from matters.service import seed_catalogue  # noqa: E402
from matters.store import MatterStore  # noqa: E402

DATABASE = "bench_guides"
SEARCH = """query S($q: String!) { searchMatters(query: $q, first: 10) {
  edges { score highlights { fragment reason } node { code name } } } }"""
SEARCH_QUERIES = [
    "个体工商户", "gtgsh", "getigongshanghu", "开饭店", "个体工商护", "身份证", "换驾照",
    "老年证", "lnrydz", "公租房", "不动产", "养老保险", "出生证", "getigongshanhu",
    "食品经营许可", "食平经营", "许可", "登记", "xuke", "yancao", "烟草专卖零售许可",
    "排污许可变更", "护照", "公积金提取", "医保", "结婚登记", "低保", "残疾人证", "入学报名",
    "建筑施工", "药店", "刻章", "发票", "失业金", "异地就医", "junshi", "养老机构备案",
    "民办学校", "导游证", "kjsh", "出租汽车", "港口经营", "医疗器械",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def seed(uri: str, size: int) -> list[str]:
    client = connect(uri)
    try:
        await client.drop_database(DATABASE)
        catalogue = demo.generate(size)
        await seed_catalogue(MatterStore(client[DATABASE]), catalogue)
        return [m.code for m in catalogue.matters]
    finally:
        await client.close()


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server {args} exited") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server {args} did not start")


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for GET and POST."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        token: str | None = None,
        content_type: str = "application/json",
        extra_headers: str = "",
    ) -> tuple[int, bytes]:
        """`extra_headers`: complete header lines ("Name: value\\r\\n" each)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            f"{auth}{extra_headers}Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload


async def load(port: int, paths: list[str], seconds: float, connections: int) -> dict[str, float]:
    """Closed-loop load: `connections` clients each sending the next request on a response."""
    done: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        conn = Connection(port)
        i = k
        while time.monotonic() < stop:
            started = time.perf_counter()
            status, _ = await conn.request("GET", paths[i % len(paths)])
            done.append(time.perf_counter() - started)
            errors += status != 200
            i += connections

    started = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(connections)))
    elapsed = time.monotonic() - started
    ordered = sorted(done)
    return {
        "rps": len(done) / elapsed,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)],
        "errors": errors,
    }


async def warm(port: int, paths: list[str]) -> None:
    conn = Connection(port)
    for path in paths:
        status, body = await conn.request("GET", path)
        assert status == 200, body[:300]


async def search_latency(port: int, samples: int) -> tuple[float, float, int]:
    conn = Connection(port)
    latencies = []
    hits = 0
    rng = random.Random(7)
    queries = SEARCH_QUERIES * (samples // len(SEARCH_QUERIES) + 1)
    rng.shuffle(queries)
    for q in queries[:samples]:
        body = json.dumps({"query": SEARCH, "variables": {"q": q}}).encode()
        started = time.perf_counter()
        status, payload = await conn.request("POST", "/graphql", body)
        latencies.append(time.perf_counter() - started)
        data = json.loads(payload)
        assert status == 200, payload[:300]
        assert "errors" not in data, payload[:300]
        hits += bool(data["data"]["searchMatters"]["edges"])
    latencies.sort()
    p50 = 1000 * statistics.median(latencies)
    p99 = 1000 * latencies[int(len(latencies) * 0.99)]
    return p50, p99, hits


async def index_latency(uri: str, samples: int) -> tuple[float, float]:
    client = connect(uri)
    try:
        store = MatterStore(client[DATABASE])
        index = SearchIndex(await store.catalogue_version(), await store.search_rows())
    finally:
        await client.close()
    rng = random.Random(7)
    queries = SEARCH_QUERIES * (samples // len(SEARCH_QUERIES) + 1)
    rng.shuffle(queries)
    latencies = []
    for q in queries[:samples]:
        started = time.perf_counter()
        index.search(q, 10)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return 1000 * statistics.median(latencies), 1000 * latencies[int(len(latencies) * 0.99)]


async def run(quick: bool) -> None:
    phase = 8.0 if quick else 30.0
    samples = 600 if quick else 2000
    size = 10_000
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        t0 = time.monotonic()
        codes = await seed(db.uri, size)
        print(f"catalogue_matters={len(codes)}")
        print(f"seed_seconds={time.monotonic() - t0:.1f}")
        env = {
            **os.environ,
            "ZSB_MONGODB_URI": db.uri,
            "ZSB_DATABASE_NAME": DATABASE,
            "ZSB_DATA_DIR": tmp,
            "ZSB_DEMO_DATA": "false",
            "ZSB_DEV_ISSUER": "false",
            "ZSB_RATE_LIMITS": "off",
            "ZSB_LOG_LEVEL": "WARNING",
            "ZSB_SECRET_KEY": "bench-" + "k" * 40,
        }
        gql_port, rest_port = free_port(), free_port()
        servers = [
            start_server(["app.main:create_app", "--factory"], env, gql_port),
            start_server(["rest_baseline:app", "--app-dir", "bench"], env, rest_port),
        ]
        try:
            rng = random.Random(1)
            sample = rng.sample(codes, 200)
            digest = operation_hash((DEFAULT_DIR / "MatterGuide.graphql").read_text("utf-8"))
            gql_paths = [
                f"/graphql?id={digest}&variables={quote(json.dumps({'code': c}))}" for c in sample
            ]
            rest_paths = [f"/matters/{c}" for c in sample]
            conn = Connection(gql_port)
            gql_status, gql_body = await conn.request("GET", gql_paths[0])
            rest_status, rest_body = await Connection(rest_port).request("GET", rest_paths[0])
            assert gql_status == rest_status == 200, (gql_body[:300], rest_body[:300])
            assert json.loads(gql_body)["data"]["matter"]["code"] == sample[0]
            print(f"graphql_guide_bytes={len(gql_body)}")
            print(f"rest_guide_bytes={len(rest_body)}")
            # Warm both: one pass over every path (so the measured GraphQL phase is the cached
            # read the target is about), then a short burst.
            await asyncio.gather(*(warm(gql_port, gql_paths[k::8]) for k in range(8)))
            await asyncio.gather(*(warm(rest_port, rest_paths[k::8]) for k in range(8)))
            await load(gql_port, gql_paths, 2.0, 16)
            await load(rest_port, rest_paths, 2.0, 16)
            rest = await load(rest_port, rest_paths, phase, 32)
            gql = await load(gql_port, gql_paths, phase, 32)
            for name, result in (("graphql", gql), ("rest", rest)):
                for key, value in result.items():
                    print(
                        f"{name}_{key}={value:.2f}"
                        if key != "errors"
                        else f"{name}_{key}={value:.0f}"
                    )
            print(f"graphql_vs_rest={gql['rps'] / rest['rps']:.2f}")
            # Uncached GraphQL for comparison: POST bypasses the response cache.
            t1 = time.perf_counter()
            post_conn = Connection(gql_port)
            n = 0
            while time.perf_counter() - t1 < phase / 2:
                query = (DEFAULT_DIR / "MatterGuide.graphql").read_text("utf-8")
                body = json.dumps({"query": query, "variables": {"code": sample[n % 200]}})
                status, _ = await post_conn.request("POST", "/graphql", body.encode())
                assert status == 200
                n += 1
            print(f"graphql_uncached_single_client_rps={n / (time.perf_counter() - t1):.2f}")
            # Search: first call builds the index for this catalogue version.
            t2 = time.perf_counter()
            await search_latency(gql_port, 1)
            print(f"search_index_build_seconds={time.perf_counter() - t2:.2f}")
            p50, p99, hits = await search_latency(gql_port, samples)
            print(f"search_samples={samples}")
            print(f"search_with_results={hits}")
            print(f"search_p50_ms={p50:.2f}")
            print(f"search_p99_ms={p99:.2f}")
            # The index alone, in this process, same catalogue and queries: separates the
            # search itself from GraphQL and HTTP overhead.
            index_p50, index_p99 = await index_latency(db.uri, samples)
            print(f"search_index_only_p50_ms={index_p50:.2f}")
            print(f"search_index_only_p99_ms={index_p99:.2f}")
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter run (under 3 minutes)")
    asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
