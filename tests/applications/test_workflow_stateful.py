"""A hypothesis state machine over the guarded update itself (`ApplicationStore.transition`).

Several actors hold copies of the case read at different times (stale reads). Each rule tries a
status change the table allows from the status the actor read, guarded by that read. The model
says it must win exactly when the actor's copy is current; after every step the stored case
equals the model and its timeline is an unbroken chain of legal steps. This is the property the
service relies on when two clerks act at once.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from bson import ObjectId
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from pymongo import AsyncMongoClient

from applications.models import Application, Event
from applications.store import ApplicationStore
from applications.workflow import TRANSITIONS, Status, allowed


def run_machine(uri: str) -> None:
    class GuardedTransitions(RuleBasedStateMachine):
        reads = Bundle("reads")

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
            self.store = ApplicationStore(self.client[f"stateful_{ObjectId()}"])
            now = datetime.now(UTC)
            self.app_id = ObjectId()
            doc = {
                "_id": self.app_id, "rev": 0, "applicant_id": ObjectId(), "matter_code": "M",
                "matter_name": "事项", "situation_code": "01", "department_code": "D",
                "department_name": "部门", "status": Status.SUBMITTED.value, "form": {},
                "materials": [], "committed_days": 1, "created_at": now,
                "timeline": [Event(now, None, "SYSTEM", "SUBMIT", Status.DRAFT,
                                   Status.SUBMITTED).to_document()],
            }  # fmt: skip
            self.loop.run_until_complete(self.store.apps.insert_one(doc))
            self.status, self.rev = Status.SUBMITTED, 0

        def _get(self) -> Application:
            app = self.loop.run_until_complete(self.store.get(self.app_id))
            assert app is not None
            return app

        @rule(target=reads)
        def read(self) -> Application:
            return self._get()

        @rule(copy=reads, data=st.data())
        def change(self, copy: Application, data: st.DataObject) -> None:
            # The service checks the table against what it read before writing; so do we.
            choices = sorted(TRANSITIONS[copy.status])
            if not choices:
                return
            target = data.draw(st.sampled_from(choices))
            event = Event(datetime.now(UTC), None, "CLERK", "STEP", copy.status, target)
            moved = self.loop.run_until_complete(self.store.transition(copy, target, [event]))
            current = copy.rev == self.rev
            assert (moved is not None) == current
            if moved is not None:
                self.status, self.rev = target, self.rev + 1

        @rule(copy=reads)
        def touch(self, copy: Application) -> None:
            """A change keeping the status (转办, a partial 补交): only the revision guards it."""
            event = Event(datetime.now(UTC), None, "CLERK", "TRANSFER", copy.status, copy.status)
            moved = self.loop.run_until_complete(self.store.transition(copy, copy.status, [event]))
            assert (moved is not None) == (copy.rev == self.rev)
            if moved is not None:
                self.rev += 1

        @invariant()
        def stored_case_matches_the_model(self) -> None:
            app = self._get()
            assert (app.status, app.rev) == (self.status, self.rev)
            assert len(app.timeline) == self.rev + 1
            for a, b in itertools.pairwise(app.timeline):
                assert a.after == b.before
                assert b.after is not None
                assert b.before is not None
                assert b.before == b.after or allowed(b.before, b.after)
            if not TRANSITIONS[self.status]:
                assert self.status in (Status.REJECTED, Status.WITHDRAWN, Status.REVOKED)

        def teardown(self) -> None:
            self.loop.run_until_complete(self.client.drop_database(self.store.db.name))
            self.loop.run_until_complete(self.client.close())
            self.loop.close()

    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        GuardedTransitions,
        settings=settings(max_examples=8, stateful_step_count=10, deadline=None),
    )


def test_guarded_transitions_win_exactly_when_the_read_is_current(mongo_uri: str) -> None:
    run_machine(mongo_uri)
