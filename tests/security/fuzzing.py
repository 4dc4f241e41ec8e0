"""Schema-driven fuzzing of `/graphql` with schemathesis: one engine for the test and the bench.

schemathesis turns the schema into hypothesis strategies of valid GraphQL operations (every
Query and Mutation root field, arguments and selections drawn from their types). Each example
is sent over real HTTP, as a role drawn for it, and the answer is judged by `problems()`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from app.schema import export_sdl

_KEYS = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)
_LEAVES = st.one_of(
    st.text(max_size=12).map(nodes.String),
    st.sampled_from(["$gt", "$where", "$ne", "a.b", "$", "$$ROOT"]).map(nodes.String),
    st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
    st.booleans().map(nodes.Boolean),
)


def _object(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    import graphql

    pair = st.tuples(_KEYS, children).map(
        lambda kv: graphql.ObjectFieldNode(name=graphql.NameNode(value=kv[0]), value=kv[1])
    )
    return st.lists(pair, max_size=4, unique_by=lambda f: f.name.value).map(nodes.Object)


# The JSON scalar (form data, matter documents): leaves, lists and small nested objects.
schemathesis.graphql.scalar(
    "JSON",
    st.recursive(
        _LEAVES,
        lambda inner: st.one_of(st.lists(inner, max_size=3).map(nodes.List), _object(inner)),
        max_leaves=8,
    ),
)

# Upload (multipart file parts) cannot travel in a JSON body: the fuzzer sends literals where a
# file belongs, which the server must refuse cleanly. Real files: tests/applications/test_uploads.
schemathesis.graphql.scalar(
    "Upload", st.sampled_from(["", "0", "file", "../../etc/passwd"]).map(nodes.String)
)

# Python exception names, tracebacks, driver or file names: internal detail a client must not see.
LEAK = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|pymongo|bson|motor|strawberry\.|"
    r"\b(?:Key|Type|Value|Attribute|Index|Assertion|Runtime|Name|ZeroDivision|Lookup|Unicode"
    r"(?:Decode|Encode)?|Overflow|Recursion|NotImplemented|OperationFailure|DuplicateKey|"
    r"ServerSelectionTimeout|Write|BulkWrite)(?:Error|Exception)\b"
)


@dataclass
class Finding:
    operation: str
    role: str
    query: str
    status: int
    problem: str
    body: str


@dataclass
class FuzzReport:
    requests: int = 0
    seconds: float = 0.0
    per_operation: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def problems(status: int, payload: Any) -> list[str]:
    """What is wrong with an answer: 5xx, not GraphQL, a masked or leaking error, a null in a
    non-null field (a schema violation)."""
    found: list[str] = []
    if status >= 500:
        found.append(f"HTTP {status}")
    if status == 429:
        found.append("rate limited (the fuzz server runs with limits off)")
    if not isinstance(payload, dict) or not ({"data", "errors"} & set(payload)):
        return [*found, "not a GraphQL response"]
    for error in payload.get("errors") or []:
        message = str(error.get("message", ""))
        if message.startswith("Unexpected error"):
            found.append("masked internal error (an unhandled exception in a resolver)")
        elif LEAK.search(message):
            found.append(f"internal detail in an error message: {message[:200]}")
        if "Cannot return null for non-nullable field" in message:
            found.append(f"schema violation: {message[:200]}")
    return found


def operations(names: Iterable[str] | None = None) -> list[Any]:
    schema = schemathesis.graphql.from_file(export_sdl())
    chosen = set(names) if names else None
    found = []
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]  # an Err raises here, as it should
        if chosen is None or op.label.split(".", 1)[1] in chosen:
            found.append(op)
    return found


# Mutations that would end the fuzzing roles' sessions: sent, but as a throw-away sign-in.
SESSION_ENDING = {"logout"}


@dataclass
class _Run:
    client: httpx.Client
    tokens: dict[str, str | None]
    report: FuzzReport
    deadline: float
    fresh_token: Any
    seed: int | None

    def send(self, name: str, query: str, role: str) -> None:
        token = self.tokens[role]
        if name in SESSION_ENDING and token is not None and self.fresh_token is not None:
            token = self.fresh_token(role)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.post("/graphql", json={"query": query}, headers=headers)
        self.report.requests += 1
        self.report.per_operation[name] = self.report.per_operation.get(name, 0) + 1
        try:
            payload = response.json()
        except ValueError:
            payload = None
        for problem in problems(response.status_code, payload):
            self.report.findings.append(
                Finding(name, role, query, response.status_code, problem, response.text)
            )

    def fuzz(self, op: Any, examples: int) -> None:
        name = op.label.split(".", 1)[1]

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=self.seed is None,
            phases=[Phase.generate],  # findings are collected, so nothing to shrink
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(), role=st.sampled_from(sorted(self.tokens)))
        def probe(case: Any, role: str) -> None:
            if time.monotonic() < self.deadline:
                self.send(name, case.body, role)

        if self.seed is not None:
            probe = hypothesis_seed(self.seed)(probe)
        self.report.per_operation.setdefault(name, 0)
        probe()


def run(
    base_url: str,
    tokens: dict[str, str | None],
    *,
    examples: int,
    budget_seconds: float,
    fresh_token: Any = None,
    names: Iterable[str] | None = None,
    seed: int | None = None,
) -> FuzzReport:
    """Fuzz every operation with `examples` examples each (a role drawn per example), stopping
    early when the time budget is spent. Findings are collected, not raised, so one run reports
    everything it saw."""
    report = FuzzReport()
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        state = _Run(client, tokens, report, started + budget_seconds, fresh_token, seed)
        for op in operations(names):
            if time.monotonic() > state.deadline:
                break
            state.fuzz(op, examples)
    report.seconds = time.monotonic() - started
    return report


def summary(report: FuzzReport) -> str:
    lines = [
        f"{report.requests} requests over {len(report.per_operation)} operations "
        f"in {report.seconds:.1f} s; {len(report.findings)} findings"
    ]
    seen: set[tuple[str, str]] = set()
    for f in report.findings:
        key = (f.operation, f.problem[:80])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- {f.operation} as {f.role}: {f.problem}")
        lines.append(f"  query: {f.query[:300]!r}\n  body: {f.body[:300]}")
    return "\n".join(lines)
