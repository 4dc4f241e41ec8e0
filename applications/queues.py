"""Clerks' work queue: the open cases they may process, most urgent deadline first."""

from __future__ import annotations

from app.pagination import Connection, SortKey, paginate
from applications.departments import processable_departments
from applications.models import Application
from applications.store import ApplicationStore
from applications.workflow import Status
from auth.models import Role
from auth.permissions import Viewer
from matters.service import MatterService

# Cases waiting for a clerk (not DRAFT, not RETURNED to the applicant, not decided).
QUEUED = (
    Status.SUBMITTED,
    Status.ACCEPTED,
    Status.ACCEPTED_PENDING_SUPPLEMENT,
    Status.IN_REVIEW,
)
BY_DEADLINE = SortKey((("due_at", 1), ("_id", 1)))


class Queues:
    store: ApplicationStore
    matters: MatterService

    async def queue(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Application]:
        """亮灯管理: open cases ordered by deadline (the earliest due, i.e. most at risk, first)."""
        viewer.require_role(Role.CLERK)
        departments = await processable_departments(self.matters, viewer.department_code)
        query = {
            "department_code": {"$in": departments},
            "status": {"$in": [s.value for s in QUEUED]},
        }
        return await paginate(
            self.store.apps, query, BY_DEADLINE, first, after, Application.from_document
        )
