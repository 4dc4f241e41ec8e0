"""好差评 闭环 and 投诉/办不成事: the rules around tickets (see `tickets.py` for the model).

`FeedbackDesk` wraps an `ApplicationService` (its store, catalogue, clock); resolvers build one
per request. Who may do what:

- anyone signed in: `submitFeedback` about their own case, a matter or a department; sees
  their own tickets (`myFeedback`);
- 帮办代办: the agent who submitted a case for a principal, while a grant in force covers the
  case's matter (and with real-name assurance, L2), may file a complaint or a 办不成事 report
  about that case (`agency.AgencyDesk.acting`, as for the agent's other acts). The ticket is
  the principal's (`reporter_id`: their `myFeedback`, their reply notice; the daily limit is
  the filer's: an agent's tickets count against the agent),
  records the agent (`agent_id`; the opening step is an AGENT step `on_behalf_of` the
  principal), is audited, and the principal is told (AGENT_ACTED). The agent reads it while
  the grant is in force. Suggestions stay one's own, and so does rating (AGENT_CANNOT_RATE);
- clerks and supervisors of the handling department (`may_process`), and admins: the queue,
  taking a ticket (OPEN → IN_PROGRESS);
- supervisors (督查) of that department, and admins: closing with a reply (→ CLOSED), which
  notifies the reporter; a rectification's close-out is written to the rating too, in the same
  transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from app.db import Document
from app.errors import DomainError, ForbiddenError, NotFoundError
from app.ids import to_global_id
from app.pagination import Connection, paginate
from applications.agency import AGENT_KEY_PREFIX, AgencyDesk
from applications.departments import processable_departments
from applications.models import Application
from applications.staff import audit, is_staff_for
from applications.ticket_subjects import after_agent_filed, ticket_subject
from applications.tickets import (
    MOVES,
    RECENT,
    Ticket,
    TicketKind,
    TicketStatus,
    TicketStore,
    new_ticket,
)
from auth.models import Role
from auth.permissions import Viewer
from notifications import service as notifications_service

if TYPE_CHECKING:
    from applications.service import ApplicationService

log = logging.getLogger(__name__)

MAX_CONTENT = 1000
MAX_REPLY = 1000
DAILY_FEEDBACK_LIMIT = 20
KIND_NAMES = {
    TicketKind.RECTIFICATION: "差评整改",
    TicketKind.COMPLAINT: "投诉",
    TicketKind.CANNOT_GET_DONE: "办不成事",
    TicketKind.SUGGESTION: "意见建议",
}
# What an agent may file for a principal: reports about the case they handle for them.
AGENT_KINDS = frozenset({TicketKind.COMPLAINT, TicketKind.CANNOT_GET_DONE})


class TicketNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("工单不存在 (no such ticket)", field="ticketId")


async def rate_with_rectification(
    svc: ApplicationService, app: Application, rating: dict[str, Any]
) -> Document | None:
    """Store a rating; a bad one opens its rectification ticket in the same transaction.

    The rating's filter `rating: null` is the guard (once, never edited); None if already rated.
    """
    ticket: Document | None = None
    if "rectification" in rating:
        ticket = new_ticket(
            TicketKind.RECTIFICATION,
            source_key=f"rating:{app.id}",
            reporter_id=app.applicant_id,
            department_code=app.department_code,
            department_name=app.department_name,
            content=rating.get("comment") or f"差评（{rating['score']}星）",
            now=rating["at"],
            application_id=app.id,
            matter_code=app.matter_code,
        )
        rating["rectification"]["ticket_id"] = ticket["_id"]
        rating["rectification"]["due_at"] = ticket["due_at"]

    async def run(session: AsyncClientSession) -> Document | None:
        doc = await svc.store.apps.find_one_and_update(
            {"_id": app.id, "applicant_id": app.applicant_id, "rating": None},
            {"$set": {"rating": rating}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if doc is not None and ticket is not None:
            await TicketStore(svc.store.db).insert(ticket, session)
        return doc

    async with svc.store.db.client.start_session() as session:
        result: Document | None = await session.with_transaction(run)
        return result


class FeedbackDesk:
    def __init__(self, svc: ApplicationService) -> None:
        self.svc = svc
        self.store = TicketStore(svc.store.db)

    # -- citizens -------------------------------------------------------------------------

    async def submit(
        self,
        viewer: Viewer,
        kind: TicketKind,
        content: str,
        idempotency_key: str,
        application_id: ObjectId | None,
        matter_code: str | None,
        department_code: str | None,
    ) -> Ticket:
        if kind is TicketKind.RECTIFICATION:
            raise DomainError(
                "差评整改工单由评价自动生成 (opened by ratings only)",
                code="INVALID_KIND",
                field="kind",
            )
        text = (content or "").strip()
        if not text or len(text) > MAX_CONTENT:
            raise DomainError(
                f"请填写反映内容（1至{MAX_CONTENT}字）", code="INVALID_CONTENT", field="content"
            )
        key = idempotency_key
        if not isinstance(key, str) or not 8 <= len(key) <= 100 or not key.isprintable():
            raise DomainError(
                "幂等键应为8到100个可见字符", code="INVALID_IDEMPOTENCY_KEY", field="idempotencyKey"
            )
        subject = await ticket_subject(
            self.svc, viewer, application_id, matter_code, department_code
        )
        acting = subject.acting
        if acting is not None and acting.grant is not None and kind not in AGENT_KINDS:
            raise DomainError(
                "代办人可代为投诉或反映“办不成事”，建议请以本人名义提出 (agents file complaints "
                "and 办不成事 reports only)",
                code="INVALID_KIND",
                field="kind",
            )
        reporter_id = acting.applicant.user_id if acting is not None else viewer.user_id
        agent_id = acting.actor.user_id if acting is not None and acting.grant else None
        # An agent's keys are their own, per principal: never the principal's own tickets.
        source_key = (
            f"feedback:{viewer.user_id}:{key}"
            if agent_id is None
            else f"feedback:{AGENT_KEY_PREFIX}{agent_id}:{reporter_id}:{key}"
        )
        existing = await self.store.tickets.find_one({"source_key": source_key})
        if existing is not None:
            return Ticket.from_document(existing)
        now = self.svc.now()
        recent = await self._filed_today(reporter_id, agent_id, now)
        if recent >= DAILY_FEEDBACK_LIMIT:
            raise DomainError(
                "今日反映次数已达上限，请拨打12345 (daily limit reached)",
                code="RATE_LIMITED",
                field="content",
            )
        doc = new_ticket(
            kind,
            source_key=source_key,
            reporter_id=reporter_id,
            department_code=subject.department_code,
            department_name=subject.department_name,
            content=text,
            now=now,
            application_id=application_id,
            matter_code=subject.matter_code,
            agent_id=agent_id,
        )
        # An agent's ticket is written with its grant re-checked in the same transaction, as
        # the agent's other acts are: a revocation since `acting` checked it refuses it.
        requires = acting.requirement(now) if acting is not None else None
        if requires is None:
            ticket, created = await self.store.insert(doc)
        else:
            ticket, created = await self.store.insert_requiring(doc, requires)
        if created and acting is not None and subject.app is not None:
            await after_agent_filed(self.svc.store.db, acting, subject.app, ticket)
        return ticket

    async def mine(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Ticket]:
        return await self.store.mine(viewer.user_id, first, after)

    async def _filed_today(
        self, reporter_id: ObjectId, agent_id: ObjectId | None, now: datetime
    ) -> int:
        """The limit is the filer's: an agent's tickets count against the agent (across their
        principals, index agent_recent_v2), never against the principal's own allowance. The
        principal's own are counted over index reporter_recent and told apart here (a
        `$exists: false` in the query would make the planner scan the collection)."""
        since = {"$gte": now - timedelta(days=1)}
        if agent_id is not None:
            return await self.store.tickets.count_documents(
                {"agent_id": agent_id, "opened_at": since}
            )
        cursor = self.store.tickets.find(
            {"reporter_id": reporter_id, "opened_at": since}, {"agent_id": 1}
        )
        return sum(1 for doc in await cursor.to_list(None) if "agent_id" not in doc)

    async def filed_as_agent(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Ticket]:
        """Tickets the viewer filed as an agent (帮办代办) about cases of principals whose grant
        in force still covers the case's matter: as for the agent's cases
        (`AgencyDesk.submitted`), a revoked or expired authorisation ends the agent's sight."""
        covered: list[Document] = [
            {"reporter_id": g.principal_id, "matter_code": {"$in": g.matter_codes}}
            if g.matter_codes
            else {"reporter_id": g.principal_id}
            for g in await AgencyDesk(self.svc).received(viewer)
        ]
        query: Document = {"agent_id": viewer.user_id}
        # (`$or` may not be empty: no grant in force matches nothing, through the same paging.)
        query["$or"] = covered or [{"reporter_id": {"$in": []}}]
        return await paginate(self.store.tickets, query, RECENT, first, after, Ticket.from_document)

    async def get(self, viewer: Viewer, ticket_id: ObjectId) -> Ticket | None:
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            return None
        if ticket.reporter_id == viewer.user_id or is_staff_for(viewer, ticket.department_code):
            return ticket
        if ticket.agent_id == viewer.user_id and ticket.matter_code is not None:
            # The agent who filed it, while a grant in force still covers its matter.
            agency = AgencyDesk(self.svc)
            if await agency.in_force(viewer, ticket.reporter_id, [ticket.matter_code]):
                return ticket
        return None

    # -- staff ----------------------------------------------------------------------------

    async def queue(
        self,
        viewer: Viewer,
        kind: TicketKind | None,
        status: TicketStatus | None,
        overdue_only: bool,
        first: int | None,
        after: str | None,
    ) -> Connection[Ticket]:
        """Open tickets (or those of `status`) of the viewer's departments, earliest due first."""
        viewer.require_role(Role.CLERK, Role.SUPERVISOR, Role.ADMIN)
        departments: list[str] | None = None
        if not viewer.has_role(Role.ADMIN):
            departments = await processable_departments(self.svc.matters, viewer.department_code)
        statuses = [status] if status else [TicketStatus.OPEN, TicketStatus.IN_PROGRESS]
        overdue_at = self.svc.now() if overdue_only else None
        return await self.store.queue(departments, statuses, kind, overdue_at, first, after)

    async def start(self, viewer: Viewer, ticket_id: ObjectId, note: str | None) -> Ticket:
        ticket = await self._for_staff(viewer, ticket_id, closing=False)
        return await self._move(viewer, ticket, "START", _clean(note), {})

    async def close(self, viewer: Viewer, ticket_id: ObjectId, reply: str) -> Ticket:
        text = _clean(reply)
        if not text or len(reply.strip()) > MAX_REPLY:
            raise DomainError(
                f"办结须答复（1至{MAX_REPLY}字） (reply required)",
                code="REPLY_REQUIRED",
                field="reply",
            )
        ticket = await self._for_staff(viewer, ticket_id, closing=True)
        now = self.svc.now()
        fields = {"reply": text, "closed_at": now, "closed_by": viewer.user_id}

        async def run(session: AsyncClientSession) -> Ticket:
            closed = await self._move(viewer, ticket, "CLOSE", text, fields, session)
            if closed.kind is TicketKind.RECTIFICATION and closed.application_id is not None:
                # The rating shows its rectification's outcome, written with the ticket.
                await self.svc.store.apps.update_one(
                    {"_id": closed.application_id, "rating.rectification.ticket_id": closed.id},
                    {
                        "$set": {
                            "rating.rectification.status": TicketStatus.CLOSED.value,
                            "rating.rectification.closed_at": now,
                            "rating.rectification.reply": text,
                        }
                    },
                    session=session,
                )
            return closed

        async with self.svc.store.db.client.start_session() as session:
            closed: Ticket = await session.with_transaction(run)
        await self._tell_reporter(closed)
        await audit(
            self.svc.store.db,
            "applications.ticket.close",
            viewer,
            to_global_id("Ticket", closed.id),
            {"kind": closed.kind.value, "department": closed.department_code},
        )
        return closed

    async def _for_staff(self, viewer: Viewer, ticket_id: ObjectId, *, closing: bool) -> Ticket:
        if closing:
            viewer.require_role(Role.SUPERVISOR, Role.ADMIN)
        else:
            viewer.require_role(Role.CLERK, Role.SUPERVISOR, Role.ADMIN)
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            raise TicketNotFoundError()
        if not is_staff_for(viewer, ticket.department_code):
            raise ForbiddenError("非本部门工单，无权处理 (another department's ticket)")
        return ticket

    async def _move(
        self,
        viewer: Viewer,
        ticket: Ticket,
        action: str,
        note: str | None,
        fields: Document,
        session: AsyncClientSession | None = None,
    ) -> Ticket:
        sources, target = MOVES[action]
        if ticket.status not in sources:
            raise DomainError(
                f"工单当前状态（{ticket.status.value}）不能执行此操作 (invalid transition)",
                code="INVALID_TRANSITION",
                field="ticketId",
            )
        event = {
            "at": self.svc.now(),
            "actor_id": viewer.user_id,
            "action": action,
            "before": ticket.status.value,
            "after": target.value,
            "note": note,
        }
        moved = await self.store.move(ticket, target, event, fields, session)
        if moved is None:
            raise DomainError(
                "工单已被他人处理，请刷新 (changed meanwhile)",
                code="CONCURRENT_CHANGE",
                field="ticketId",
            )
        return moved

    async def _tell_reporter(self, ticket: Ticket) -> None:
        try:
            await notifications_service.notify(
                self.svc.store.db,
                ticket.reporter_id,
                "FEEDBACK_REPLIED",
                {
                    "kind": KIND_NAMES[ticket.kind],
                    "department": ticket.department_name or ticket.department_code,
                    "reply": ticket.reply,
                    "ticket_id": to_global_id("Ticket", ticket.id),
                },
                key=f"ticket:{ticket.id}:CLOSED",
            )
        except Exception:  # the close-out stands even if the notice fails
            log.exception("could not notify the reporter of a ticket reply")


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()[:MAX_REPLY]
    return text or None
