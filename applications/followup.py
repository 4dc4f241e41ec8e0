"""After acceptance or decision: 容缺 supplements, 好差评 ratings, 告知承诺 revocation.

A mixin of `ApplicationService` (kept apart so each module stays one concept); it relies on the
service's store, clock, clerk check and guarded `_move`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId

from app.errors import DomainError, InputErrors
from applications import form_sealing
from applications.agency import Acting, AgencyDesk
from applications.agent_notices import after_act
from applications.deadlines import due_at
from applications.errors import (
    ApplicationNotFoundError,
    ConcurrentChangeError,
    InvalidTransitionError,
)
from applications.feedback import rate_with_rectification
from applications.materials import MAX_REFERENCE, MaterialCheck
from applications.models import Application, Event, MaterialRef, Provision
from applications.postcheck import after_revocation, audit_revocation
from applications.store import UNSET, ApplicationStore, Requirement
from applications.workflow import Status
from auth.permissions import Viewer
from auth.service import AuthService
from matters.models import Matter, Situation
from matters.service import MatterService

RATABLE = frozenset({Status.APPROVED, Status.REJECTED})
MAX_COMMENT = 500
BAD_SCORE = 2  # 1 非常不满意, 2 不满意
RECTIFICATION_DAYS = 5


class FollowUp:
    store: ApplicationStore
    matters: MatterService
    auth: AuthService
    now: Callable[[], datetime]

    async def _for_clerk(self, viewer: Viewer, app_id: ObjectId) -> Application:
        raise NotImplementedError

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
        requires: Requirement | None = None,
    ) -> Application:
        raise NotImplementedError

    async def _checked(
        self,
        matter_code: str,
        situation_code: str | None,
        form: Any,
        given: list[MaterialRef],
        deferral_commitment: bool,
        *,
        viewer: Viewer,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> tuple[Matter, Situation, dict[str, Any], MaterialCheck]:
        raise NotImplementedError

    async def _evidence_errors(
        self,
        viewer: Viewer,
        situation: Situation | None,
        given: list[MaterialRef],
        fields: list[str] | None = None,
        *,
        uploads: bool = True,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> list[DomainError]:
        raise NotImplementedError

    async def _attach(
        self,
        viewer: Viewer,
        given: list[MaterialRef],
        app_id: ObjectId,
        situation: Situation | None = None,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> None:
        raise NotImplementedError

    async def resubmit(
        self,
        viewer: Viewer,
        app_id: ObjectId,
        form: Any,
        given: list[MaterialRef],
        deferral_commitment: bool,
    ) -> Application:
        """一次补正: a RETURNED application, corrected, goes back to SUBMITTED — once."""
        app, acting = await self._acting(viewer, app_id)
        if app.status is not Status.RETURNED:
            raise InvalidTransitionError(app.status.value, "重新提交")
        if any(e.action == "RESUBMIT" for e in app.timeline):
            raise DomainError(
                "补正机会已用过，请重新申请 (the one correction round is used)",
                code="CORRECTION_ROUND_USED",
                field="applicationId",
            )
        matter, _, cleaned, checked = await self._checked(
            app.matter_code,
            app.situation_code,
            form,
            given,
            deferral_commitment,
            viewer=acting.applicant,
            uploaders=acting.uploaders,
        )
        await self._attach(acting.applicant, checked.given, app.id, uploaders=acting.uploaders)
        now = self.now()
        fields = {
            **form_sealing.sealed(form_sealing.matter_fields([matter]), cleaned, self.auth.keyring),
            "materials": [m.to_document() for m in checked.given],
            "pending_supplements": checked.pending,
            "commitment": checked.commitment,
            "deficiencies": [],
            "submitted_at": now,
            # The committed time runs again from the corrected submission (补正后重新计算).
            "due_at": due_at(now, matter.committed_days),
        }
        moved = await self._move(
            viewer,
            app,
            Status.SUBMITTED,
            "RESUBMIT",
            "重新提交",
            fields=fields,
            on_behalf_of=acting.on_behalf_of,
            requires=acting.requirement(now),
        )
        await after_act(self.store.db, acting, moved, "RESUBMIT")
        return moved

    def _agency(self) -> AgencyDesk:
        return AgencyDesk(self)  # type: ignore[arg-type]

    async def _acting(self, viewer: Viewer, app_id: ObjectId) -> tuple[Application, Acting]:
        """The case and who acts on it: its applicant, or their agent under a grant in force."""
        app = await self.store.get(app_id)
        if app is None:
            raise ApplicationNotFoundError()
        return app, await self._agency().acting(viewer, app)

    async def supplement(
        self, viewer: Viewer, app_id: ObjectId, given: list[MaterialRef]
    ) -> Application:
        """容缺: hand in deferred materials; the last one makes the case ACCEPTED."""
        app, acting = await self._acting(viewer, app_id)
        if app.status is not Status.ACCEPTED_PENDING_SUPPLEMENT:
            raise InvalidTransitionError(app.status.value, "补交材料")
        errors: list[DomainError] = []
        supplied: list[MaterialRef] = []
        for i, item in enumerate(given):
            field = f"materials[{i}]"
            if item.name not in app.pending_supplements or item.name in {m.name for m in supplied}:
                errors.append(
                    DomainError(
                        f"“{item.name}”不是待补交的材料", code="NOT_PENDING", field=f"{field}.name"
                    )
                )
            elif item.provision is Provision.COMMITMENT or not (
                item.reference and len(item.reference) <= MAX_REFERENCE
            ):
                errors.append(
                    DomainError(
                        "材料引用无效", code="INVALID_REFERENCE", field=f"{field}.reference"
                    )
                )
            else:
                supplied.append(item)
        if not given:
            errors.append(DomainError("请选择要补交的材料", code="REQUIRED", field="materials"))
        # Licence references need the catalogue's type: the situation comes from the matter.
        record = await self.matters.get(app.matter_code)
        situations = record.matter.situations if record else []
        situation = next((s for s in situations if s.code == app.situation_code), None)
        positions = [f"materials[{given.index(m)}]" for m in supplied]
        errors += await self._evidence_errors(
            acting.applicant, situation, supplied, positions, uploaders=acting.uploaders
        )
        if errors:
            raise InputErrors(errors)
        await self._attach(acting.applicant, supplied, app.id, uploaders=acting.uploaders)
        remaining = [n for n in app.pending_supplements if n not in {m.name for m in supplied}]
        fields = {
            "pending_supplements": remaining,
            "materials": [m.to_document() for m in [*app.materials, *supplied]],
        }
        data = {"materials": [m.name for m in supplied]}
        if not remaining:
            moved = await self._move(
                viewer,
                app,
                Status.ACCEPTED,
                "SUPPLEMENT",
                "补交材料",
                fields=fields,
                data=data,
                on_behalf_of=acting.on_behalf_of,
                requires=acting.requirement(self.now()),
            )
        else:
            event = Event(
                self.now(),
                viewer.user_id,
                "AGENT" if acting.grant else "APPLICANT",
                "SUPPLEMENT",
                app.status,
                app.status,
                None,
                data,
                acting.on_behalf_of,
            )
            found = await self.store.transition(
                app, app.status, [event], fields, requires=acting.requirement(self.now())
            )
            if found is None:
                raise ConcurrentChangeError()
            moved = found
        await after_act(self.store.db, acting, moved, "SUPPLEMENT")
        return moved

    async def rate(
        self, viewer: Viewer, app_id: ObjectId, score: int, comment: str | None
    ) -> Application:
        """好差评: once per finished application, by its applicant only; never editable."""
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise DomainError("评价等级应为1到5 (score 1..5)", code="INVALID_SCORE", field="score")
        text = (comment or "").strip()
        if len(text) > MAX_COMMENT:
            raise DomainError(f"评价内容不能超过{MAX_COMMENT}字", code="TOO_LONG", field="comment")
        app = await self.store.get(app_id)
        if app and app.applicant_id != viewer.user_id and app.agent_id == viewer.user_id:
            # 好差评 is the service recipient's own judgement (GB/T 39734: 办事企业和群众评价);
            # an agent rating for the principal would be the agent's view in their name.
            raise DomainError(
                "好差评须由申请人本人作出，代办人不能代为评价 (only the applicant may rate)",
                code="AGENT_CANNOT_RATE",
                field="applicationId",
            )
        if app is None or app.applicant_id != viewer.user_id:
            raise ApplicationNotFoundError()
        if app.status not in RATABLE:
            raise DomainError(
                "办结后才能评价 (rate after completion)", code="NOT_FINISHED", field="applicationId"
            )
        now = self.now()
        rating: dict[str, Any] = {
            "score": score,
            "comment": text or None,
            "at": now,
            "channel": "APP",
        }
        if score <= BAD_SCORE:
            # 差评整改: a bad rating opens a rectification the department must close in time;
            # stored with the rating in the same update, so none is ever missed.
            rating["rectification"] = {
                "status": "OPEN",
                "opened_at": now,
                "due_at": due_at(now, RECTIFICATION_DAYS),
            }
        # The filter is the guard: a second rating (even a concurrent one) matches nothing; a
        # bad rating's rectification ticket is inserted in the same transaction.
        doc = await rate_with_rectification(self, app, rating)  # type: ignore[arg-type]
        if doc is None:
            raise DomainError(
                "已评价，不能修改 (already rated)", code="ALREADY_RATED", field="applicationId"
            )
        return Application.from_document(doc)

    async def revoke(self, viewer: Viewer, app_id: ObjectId, reason: str) -> Application:
        """你失信、我撤销: a clerk revokes an approval (e.g. a broken 告知承诺)."""
        text = (reason or "").strip()[:MAX_COMMENT]
        if not text:
            raise DomainError(
                "撤销须说明理由 (reason required)", code="REASON_REQUIRED", field="reason"
            )
        app = await self._for_clerk(viewer, app_id)
        if app.status is not Status.APPROVED:
            raise InvalidTransitionError(app.status.value, "撤销")
        # The effects (licence withdrawn, credit event) are flagged pending in the same guarded
        # transition: if they fail now, the worker's housekeeping finishes them (a retried
        # mutation could not: the case is no longer APPROVED).
        fields = {
            "revoke_reason": text,
            "revoked_by": viewer.user_id,
            "revocation_effects_pending": True,
            "result_pending": False,  # a licence not issued yet never will be (issuing.py)
            "awaiting_shipment": UNSET,  # nor is a paper result posted (待邮寄, shipping.py)
        }
        revoked = await self._move(
            viewer, app, Status.REVOKED, "REVOKE", "撤销", note=text, fields=fields
        )
        licence_revoked = await after_revocation(self, revoked)  # type: ignore[arg-type]
        await audit_revocation(self, viewer, revoked, licence_revoked)  # type: ignore[arg-type]
        return revoked

    async def rating_stats(
        self, matter_code: str | None, department_code: str | None
    ) -> dict[str, Any]:
        """好差评 figures for a matter or a department (published: 评价结果公开)."""
        query: dict[str, Any] = {"rating": {"$ne": None}}
        if matter_code:
            query["matter_code"] = str(matter_code)[:64]
        if department_code:
            query["department_code"] = str(department_code)[:64]
        if len(query) == 1:
            raise DomainError(
                "请指定事项或部门 (matterCode or departmentCode required)",
                code="FILTER_REQUIRED",
                field="matterCode",
            )
        rows = await self.store.apps.aggregate(
            [
                {"$match": query},
                {"$group": {"_id": "$rating.score", "n": {"$sum": 1}}},
            ]
        )
        counts = {int(r["_id"]): int(r["n"]) async for r in rows}
        total = sum(counts.values())
        return {
            "count": total,
            "average": round(sum(k * v for k, v in counts.items()) / total, 2) if total else None,
            "by_score": [counts.get(score, 0) for score in range(1, 6)],
            "bad": counts.get(1, 0) + counts.get(2, 0),
        }
