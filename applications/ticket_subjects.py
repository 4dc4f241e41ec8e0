"""What a citizen's ticket is about, and who files it (feedback.py's `submitFeedback`).

A ticket goes to the department of the case it names, else of the matter, else the one named.
For a case, `AgencyDesk.acting` decides who acts: its applicant, or the agent who submitted it
while a grant in force covers its matter (帮办代办; else AGENT_NOT_AUTHORISED), anyone else gets
NOT_FOUND as for a missing case. An agent's ticket is then audited and told to the principal
like the agent's other acts (`after_agent_filed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from app.errors import DomainError
from app.ids import to_global_id
from applications.agency import Acting, AgencyDesk
from applications.agent_notices import tell_principal
from applications.errors import ApplicationNotFoundError
from applications.models import Application
from applications.staff import audit
from applications.tickets import Ticket
from auth.permissions import Viewer

if TYPE_CHECKING:
    from applications.service import ApplicationService


@dataclass(frozen=True, slots=True)
class Subject:
    """What a ticket is about: where it goes, and for a case, who acts on it."""

    department_code: str
    department_name: str | None
    matter_code: str | None
    app: Application | None = None
    acting: Acting | None = None


async def ticket_subject(
    svc: ApplicationService,
    viewer: Viewer,
    application_id: ObjectId | None,
    matter_code: str | None,
    department_code: str | None,
) -> Subject:
    """The department a ticket goes to: of the case, else of the matter, else as named."""
    if application_id is not None:
        app = await svc.store.get(application_id)
        if app is None:
            raise ApplicationNotFoundError()
        acting = await AgencyDesk(svc).acting(viewer, app)
        return Subject(app.department_code, app.department_name, app.matter_code, app, acting)
    if matter_code is not None:
        matter = await svc._published(matter_code)
        return Subject(matter.department_code, matter.department_name, matter.code)
    if department_code is not None:
        for dept in await svc.matters.departments():
            if dept.code == department_code:
                return Subject(dept.code, dept.name, None)
        raise DomainError(
            "部门不存在 (unknown department)", code="UNKNOWN_DEPARTMENT", field="departmentCode"
        )
    raise DomainError(
        "请指明所涉办件、事项或部门 (applicationId, matterCode or departmentCode)",
        code="SUBJECT_REQUIRED",
        field="applicationId",
    )


async def after_agent_filed(
    db: AsyncDatabase[Document], acting: Acting, app: Application, ticket: Ticket
) -> None:
    """As for the agent's other acts: audited (`applications.agency.complaint` /
    `.cannot_get_done`), and the principal told (AGENT_ACTED, once per ticket)."""
    if acting.grant is None:
        return
    tid = to_global_id("Ticket", ticket.id)
    await audit(
        db,
        f"applications.agency.{ticket.kind.value.lower()}",
        acting.actor,
        tid,
        {
            "grant": to_global_id("AgencyGrant", acting.grant.id),
            "application": to_global_id("Application", app.id),
            "matter": app.matter_code,
        },
    )
    await tell_principal(
        db,
        acting.grant,
        app.matter_name,
        ticket.kind.value,
        f"tickets/{tid}",
        key=f"agent:ticket:{ticket.id}",
    )
