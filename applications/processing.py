"""Clerks' steps on a case (受理, 退回补正, 批准, 不予许可, 转办) and the applicant's 撤回.

A mixin of `ApplicationService` (kept apart so each module stays one concept): every step is a
guarded transition of the state machine (`applications/workflow.py`) recorded as timeline
events, and every status change notifies the applicant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from bson import ObjectId

from app.errors import DomainError, ForbiddenError, is_transient
from applications.accept import TEMPLATE, status_notice
from applications.agency import AgencyDesk
from applications.agent_notices import after_act
from applications.deadlines import due_at
from applications.departments import may_process
from applications.errors import (
    ApplicationNotFoundError,
    ConcurrentChangeError,
    InvalidTransitionError,
)
from applications.issuing import issue_result, result_on_approval
from applications.models import Application, Event
from applications.store import ApplicationStore, Requirement
from applications.workflow import WITHDRAWABLE, Status, path
from auth.models import Role
from auth.permissions import Viewer
from matters.service import MatterService
from notifications import service as notifications_service

if TYPE_CHECKING:
    from applications.service import ApplicationService

APPLICANT_ACTIONS = frozenset({"SUBMIT", "WITHDRAW", "SUPPLEMENT", "RESUBMIT"})
SUPPLEMENT_DAYS = 5
MAX_NOTE = 500

log = logging.getLogger(__name__)


class Processing:
    store: ApplicationStore
    matters: MatterService
    now: Callable[[], datetime]

    def _service(self) -> ApplicationService:
        """This mixin's service, for the modules that take the whole service."""
        return cast("ApplicationService", self)

    async def _for_clerk(self, viewer: Viewer, app_id: ObjectId) -> Application:
        viewer.require_role(Role.CLERK)
        app = await self.store.get(app_id)
        if app is None:
            raise ApplicationNotFoundError()
        if not may_process(viewer.department_code, app.department_code):
            raise ForbiddenError("非本部门办件，无权处理 (another department's case)")
        return app

    async def _move(
        self,
        viewer: Viewer,
        app: Application,
        target: Status,
        action: str,
        label: str,
        *,
        note: str | None = None,
        fields: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        on_behalf_of: ObjectId | None = None,
        requires: Requirement | None = None,  # an agent's act: its grant (agency.Acting)
    ) -> Application:
        steps = path(app.status, target)
        # Clerks may pass through IN_REVIEW on their way to a decision, nothing longer.
        if steps is None or len(steps) > 2:
            raise InvalidTransitionError(app.status.value, label)
        now = self.now()
        events, before = [], app.status
        for after in steps:
            events.append(
                self._event(
                    viewer, action, before, after, now, note=note, data=data, agent_for=on_behalf_of
                )
            )
            before = after
        done = target in (Status.APPROVED, Status.REJECTED, Status.WITHDRAWN)
        extra = {**(fields or {}), **({"finished_at": now} if done else {})}
        moved = await self.store.transition(app, target, events, extra, requires=requires)
        if moved is None:
            raise ConcurrentChangeError()
        await self._notify_applicant(moved, app.status, target)
        return moved

    async def accept(self, viewer: Viewer, app_id: ObjectId) -> Application:
        app = await self._for_clerk(viewer, app_id)
        if app.status is not Status.SUBMITTED:
            raise InvalidTransitionError(app.status.value, "受理")
        if not app.pending_supplements:
            return await self._move(viewer, app, Status.ACCEPTED, "ACCEPT", "受理")
        # 容缺: the deferred materials are due within SUPPLEMENT_DAYS working days of acceptance.
        fields = {"supplement_due_at": due_at(self.now(), SUPPLEMENT_DAYS)}
        return await self._move(
            viewer, app, Status.ACCEPTED_PENDING_SUPPLEMENT, "ACCEPT", "容缺受理", fields=fields
        )

    async def return_(
        self, viewer: Viewer, app_id: ObjectId, deficiencies: list[str]
    ) -> Application:
        viewer.require_role(Role.CLERK)  # before reading the input: a citizen learns nothing
        items = [d.strip() for d in deficiencies if isinstance(d, str) and d.strip()]
        if not items or len(items) > 50 or any(len(d) > MAX_NOTE for d in items):
            raise DomainError(
                "请一次性列明全部补正事项 (list every deficiency, 1..50)",
                code="DEFICIENCIES_REQUIRED",
                field="deficiencies",
            )
        app = await self._for_clerk(viewer, app_id)
        if app.status is not Status.SUBMITTED:
            raise InvalidTransitionError(app.status.value, "退回补正")
        return await self._move(
            viewer,
            app,
            Status.RETURNED,
            "RETURN",
            "退回补正",
            fields={"deficiencies": items},
            data={"deficiencies": items},
        )

    async def approve(self, viewer: Viewer, app_id: ObjectId, note: str | None) -> Application:
        app = await self._for_clerk(viewer, app_id)
        if app.status not in (Status.ACCEPTED, Status.IN_REVIEW):
            raise InvalidTransitionError(app.status.value, "批准")
        # The result is recorded in the guarded transition itself (an e-licence flagged
        # pending), then issued into the wallet within this request: see `issuing`.
        fields = await result_on_approval(self._service(), app)
        approved = await self._move(
            viewer, app, Status.APPROVED, "APPROVE", "批准", note=_note(note), fields=fields
        )
        return await issue_result(self._service(), approved)

    async def reject(self, viewer: Viewer, app_id: ObjectId, reason: str) -> Application:
        text = _note(reason)
        if not text:
            raise DomainError(
                "不予许可须说明理由 (reason required)", code="REASON_REQUIRED", field="reason"
            )
        app = await self._for_clerk(viewer, app_id)
        if app.status not in (
            Status.ACCEPTED,
            Status.IN_REVIEW,
            Status.ACCEPTED_PENDING_SUPPLEMENT,
        ):
            raise InvalidTransitionError(app.status.value, "不予许可")
        return await self._move(
            viewer,
            app,
            Status.REJECTED,
            "REJECT",
            "不予许可",
            note=text,
            fields={"rejection_reason": text},
        )

    async def transfer(
        self, viewer: Viewer, app_id: ObjectId, department_code: str, reason: str | None
    ) -> Application:
        viewer.require_role(Role.CLERK)  # before the department look-up (authorisation first)
        departments = {d.code: d for d in await self.matters.departments()}
        target = departments.get(department_code) if isinstance(department_code, str) else None
        if target is None:
            raise DomainError(
                "部门不存在 (unknown department)", code="UNKNOWN_DEPARTMENT", field="departmentCode"
            )
        app = await self._for_clerk(viewer, app_id)
        if app.status not in (Status.SUBMITTED, Status.ACCEPTED, Status.IN_REVIEW):
            raise InvalidTransitionError(app.status.value, "转办")
        if target.code == app.department_code:
            raise DomainError(
                "已由该部门办理 (same department)", code="SAME_DEPARTMENT", field="departmentCode"
            )
        event = self._event(
            viewer,
            "TRANSFER",
            app.status,
            app.status,
            self.now(),
            note=_note(reason),
            data={"from": app.department_code, "to": target.code},
        )
        moved = await self.store.transition(
            app,
            app.status,
            [event],
            {"department_code": target.code, "department_name": target.name},
        )
        if moved is None:
            raise ConcurrentChangeError()
        return moved

    async def withdraw(self, viewer: Viewer, app_id: ObjectId, reason: str | None) -> Application:
        app = await self.store.get(app_id)
        if app is None:
            raise ApplicationNotFoundError()
        acting = await AgencyDesk(self._service()).acting(
            viewer, app
        )  # the applicant or their agent
        if app.status not in WITHDRAWABLE:
            raise InvalidTransitionError(app.status.value, "撤回")
        moved = await self._move(
            viewer,
            app,
            Status.WITHDRAWN,
            "WITHDRAW",
            "撤回",
            note=_note(reason),
            on_behalf_of=acting.on_behalf_of,
            requires=acting.requirement(self.now()),
        )
        await after_act(self.store.db, acting, moved, "WITHDRAW")
        return moved

    async def _notify_applicant(
        self, app: Application, before: Status | None, after: Status, *, strict: bool = False
    ) -> None:
        """Every status change notifies the applicant (inbox, pushes); the notice is also kept
        with the case. A failure to notify is logged and never undoes the change; with
        `strict` (a step a retry resumes) a database outage is raised so the client retries."""
        notice = status_notice(app, before, after, self.now())
        try:
            await notifications_service.notify(
                self.store.db, app.applicant_id, TEMPLATE, notice.data, key=notice.key
            )
        except Exception as exc:
            if strict and is_transient(exc):
                raise
            log.exception("could not notify the applicant of a status change")
        await self.store.add_notice(notice.record)

    @staticmethod
    def _event(
        viewer: Viewer,
        action: str,
        before: Status | None,
        after: Status | None,
        at: datetime,
        *,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        agent_for: ObjectId | None = None,
    ) -> Event:
        role = "APPLICANT" if action in APPLICANT_ACTIONS else "CLERK"
        if agent_for is not None:  # 帮办代办: the agent acted for the principal
            role = "AGENT"
        return Event(at, viewer.user_id, role, action, before, after, note, data, agent_for)


def _note(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()[:MAX_NOTE]
    return text or None
