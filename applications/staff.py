"""Shared helpers of 申办's staff-side flows: who counts as staff of a department, audit records."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from app.audit import AuditEvent, AuditLog
from app.db import Document
from applications.departments import may_process
from auth.models import Role
from auth.permissions import Viewer


def is_staff_for(viewer: Viewer, department_code: str) -> bool:
    """Admins, and clerks or supervisors who may process the department's cases."""
    if viewer.has_role(Role.ADMIN):
        return True
    return viewer.has_role(Role.CLERK, Role.SUPERVISOR) and may_process(
        viewer.department_code, department_code
    )


async def audit(
    db: AsyncDatabase[Document],
    action: str,
    viewer: Viewer,
    target: str | None,
    details: dict[str, Any],
) -> None:
    """An append-only audit record of a privileged act (no personal data in `details`)."""
    await AuditLog(db).record(
        AuditEvent(
            action, viewer.user_id, tuple(sorted(r.value for r in viewer.roles)), target, details
        )
    )
