"""The state machine: its table, and random action sequences through the real service.

Whatever order (or simultaneity) clerks and applicants act in, the stored application is always
in a status the table allows, its timeline is a continuous chain of legal steps, and an action
succeeds exactly when the table says it may.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import DomainError
from applications.models import MaterialRef, Provision
from applications.results import RecordingSink
from applications.service import ApplicationService, Submission
from applications.store import ApplicationStore
from applications.uploads.evidence import MaterialEvidence
from applications.uploads.store import UploadStore
from applications.workflow import TRANSITIONS, WITHDRAWABLE, Status, allowed, path
from auth.models import AssuranceLevel, Role
from auth.permissions import Viewer
from matters.runtime import CatalogueRuntime
from matters.service import MatterService
from matters.store import MatterStore
from tests.applications.conftest import BUSINESS, CITIZEN, CLERK, business_input
from tests.applications.uploading import stored_upload
from tests.factories import Api, create_demo_user


def test_every_status_is_reachable_and_terminal_states_are_final() -> None:
    for status in Status:
        if status is not Status.DRAFT:
            assert path(Status.DRAFT, status) is not None, status
    for final in (Status.REJECTED, Status.WITHDRAWN, Status.REVOKED):
        assert TRANSITIONS[final] == frozenset()
    assert TRANSITIONS[Status.APPROVED] == frozenset({Status.REVOKED})
    assert Status.APPROVED not in WITHDRAWABLE


@given(st.sampled_from(list(Status)), st.sampled_from(list(Status)))
def test_paths_only_take_legal_steps(before: Status, after: Status) -> None:
    steps = path(before, after)
    if steps is None:
        return
    chain = [before, *steps]
    assert all(allowed(a, b) for a, b in itertools.pairwise(chain))
    assert chain[-1] is after


ACTIONS = ["accept", "return", "approve", "reject", "withdraw"]

# What the table says each action does from each status (None: refused).
EXPECTED: dict[str, dict[Status, Status]] = {
    "accept": {Status.SUBMITTED: Status.ACCEPTED},
    "return": {Status.SUBMITTED: Status.RETURNED},
    "approve": {Status.ACCEPTED: Status.APPROVED, Status.IN_REVIEW: Status.APPROVED},
    "reject": {
        Status.ACCEPTED: Status.REJECTED,
        Status.IN_REVIEW: Status.REJECTED,
        Status.ACCEPTED_PENDING_SUPPLEMENT: Status.REJECTED,
    },
    "withdraw": {s: Status.WITHDRAWN for s in WITHDRAWABLE},
}


def _outcomes(status: Status, winners: list[str]) -> set[Status]:
    """Final statuses of applying `winners` in any order, each legal where it is applied."""
    found = set()
    for order in itertools.permutations(winners):
        current: Status | None = status
        for action in order:
            current = EXPECTED[action].get(current) if current else None
        if current is not None:
            found.add(current)
    return found


def _service(api: Api) -> ApplicationService:
    state = api.state
    store = ApplicationStore(state.db)
    matters = MatterService(MatterStore(state.db), CatalogueRuntime())
    return ApplicationService(
        store,
        matters,
        state.auth_service(),
        RecordingSink(store.record_delivery),
        evidence=MaterialEvidence(UploadStore(state.db), state.cards_service()),
    )


async def _do(svc: ApplicationService, action: str, app_id: Any, who: dict[str, Viewer]) -> bool:
    try:
        if action == "accept":
            await svc.accept(who["clerk"], app_id)
        elif action == "return":
            await svc.return_(who["clerk"], app_id, ["缺少签名"])
        elif action == "approve":
            await svc.approve(who["clerk"], app_id, None)
        elif action == "reject":
            await svc.reject(who["clerk"], app_id, "不符合条件")
        else:
            await svc.withdraw(who["citizen"], app_id, None)
    except DomainError as exc:
        if exc.code not in ("INVALID_TRANSITION", "CONCURRENT_CHANGE"):
            raise
        return False
    return True


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.one_of(
            st.sampled_from(ACTIONS).map(lambda a: (a,)),
            st.tuples(st.sampled_from(ACTIONS), st.sampled_from(ACTIONS)),
        ),
        min_size=1,
        max_size=6,
    )
)
async def test_random_action_sequences_never_reach_an_illegal_state(
    api: Api, catalogue: object, steps: list[tuple[str, ...]]
) -> None:
    citizen = await create_demo_user(api.state, CITIZEN)
    clerk = await create_demo_user(api.state, CLERK)
    who = {
        "citizen": Viewer(citizen.id, "s1", frozenset({Role.CITIZEN}), AssuranceLevel.L3),
        "clerk": Viewer(
            clerk.id,
            "s2",
            frozenset({Role.CLERK}),
            AssuranceLevel.L3,
            department_code=clerk.department_code,
        ),
    }
    svc = _service(api)
    raw = business_input(f"prop-{uuid.uuid4().hex}")
    app = await svc.submit(
        who["citizen"],
        Submission(
            matter_code=BUSINESS,
            situation=None,
            form=raw["form"],
            materials=[
                MaterialRef(
                    m["name"],
                    Provision.UPLOAD,
                    await stored_upload(api.state, who["citizen"], m["reference"]),
                )
                for m in raw["materials"]
            ],
            idempotency_key=raw["idempotencyKey"],
        ),
    )
    status = app.status
    for step in steps:
        results = await asyncio.gather(*(_do(svc, a, app.id, who) for a in step))
        stored = await svc.store.get(app.id)
        assert stored is not None
        legal = [a for a in step if status in EXPECTED[a]]
        if len(step) == 1:
            # Alone, an action succeeds exactly when the table allows it.
            assert results[0] == bool(legal)
        # Together: one wins whenever one was legal, and the winners, in some order, are a
        # legal sequence ending in the stored status (a loser may lose to a stale read).
        assert any(results) == bool(legal)
        winners = [a for a, won in zip(step, results, strict=True) if won]
        assert stored.status in _outcomes(status, winners)
        status = stored.status
        chain = [(e.before, e.after) for e in stored.timeline]
        assert chain[0] == (Status.DRAFT, Status.SUBMITTED)
        for (_, prev_after), (before, after) in itertools.pairwise(chain):
            assert before is prev_after
            assert before is not None
            assert after is not None
            assert allowed(before, after)
        assert chain[-1][1] is stored.status
