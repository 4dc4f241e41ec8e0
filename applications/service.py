"""申办's rules: who may submit what, which step may follow which, and by whom.

Object-level authorisation lives here, not in the resolvers: a citizen sees only their own
applications; a clerk acts only on applications handled by a department they may process.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from app.db import Document
from app.errors import (
    AlreadyExistsError,
    DomainError,
    ForbiddenError,
    InputErrors,
)
from app.pagination import Connection
from app.txn import Write
from applications import form_sealing, forms, materials
from applications.accept import AlsoTaken, AttachShort, insert_with_notice
from applications.agency import AGENT_KEY_PREFIX, AgencyDesk, agent_fields
from applications.deadlines import CHINA, due_at
from applications.decide import decide_instantly
from applications.delivery import DeliveryRequest
from applications.departments import may_process
from applications.drafts import DRAFT_KEY_PREFIX, Drafts
from applications.errors import (
    IdempotencyConflictError,
)
from applications.followup import FollowUp
from applications.models import Application, MaterialRef, Provision
from applications.processing import Processing
from applications.queues import Queues
from applications.results import ResultSink, ResultSpec, deliver_result, licence_pending
from applications.store import ApplicationStore, Requirement, delivered
from applications.uploads.evidence import MaterialEvidence
from applications.uploads.inline import InlineNotKept, InlineUploads
from applications.workflow import Status
from auth.models import Role, User
from auth.permissions import Viewer
from auth.service import AuthService
from matters.errors import MatterNotFoundError
from matters.models import Matter, ServiceMode, Situation
from matters.service import MatterService

MAX_KEY = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    matter_code: str
    situation: str | None
    form: Any
    materials: list[MaterialRef]
    idempotency_key: str
    on_behalf_of: str | None = None
    deferral_commitment: bool = False
    draft_id: ObjectId | None = None
    agent_id: ObjectId | None = None  # 帮办代办: set by `agency.AgencyDesk.submit_for` only
    grant_id: ObjectId | None = None
    requires: Requirement | None = None  # 帮办代办: the grant, re-checked in the transaction
    bundle_id: ObjectId | None = None  # 一件事: set by `bundles.BundleDesk` only
    result_delivery: Any = None  # 结果送达 choice (`delivery.checked_choice`); None: default
    checked_delivery: Document | None = None  # 一件事 member's sealed choice (bundles only)
    inline: InlineUploads | None = None  # files sent with it (applications/uploads/inline.py)
    file_errors: tuple[DomainError, ...] = ()  # those files' refusals (answered after the key)


@dataclass
class ApplicationService(Processing, Drafts, FollowUp, Queues):
    store: ApplicationStore
    matters: MatterService
    auth: AuthService
    sink: ResultSink
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Checks UPLOAD / LICENCE references; without it every such reference is refused.
    evidence: MaterialEvidence | None = None

    # -- reads -----------------------------------------------------------------------------

    async def get(self, viewer: Viewer, app_id: ObjectId) -> Application | None:
        """The application if the viewer may see it; None otherwise (existence is not leaked)."""
        app = await self.store.get(app_id)
        if app is None:
            return None
        if app.applicant_id == viewer.user_id:
            return app
        if viewer.has_role(Role.CLERK) and may_process(viewer.department_code, app.department_code):
            return app
        if await AgencyDesk(self).may_read(viewer, app):
            return app  # the agent, while the principal's authorisation covers the case
        return None

    async def mine(
        self, viewer: Viewer, status: Status | None, first: int | None, after: str | None
    ) -> Connection[Application]:
        return await self.store.mine(viewer.user_id, status, first, after)

    async def _published(self, code: str) -> Matter:
        record = await self.matters.get(code) if isinstance(code, str) else None
        if record is None:
            raise MatterNotFoundError(str(code)[:64], field="matterCode")
        return record.matter

    async def _identity(self, viewer: Viewer) -> tuple[User, str | None]:
        user = await self.auth.get_user(viewer.user_id)
        if user is None:
            raise ForbiddenError()
        return user, self.auth.reveal_id_number(user)

    # -- submission ------------------------------------------------------------------------

    @staticmethod
    def check_key(key: str) -> str:
        if (
            not isinstance(key, str)
            or not 8 <= len(key) <= MAX_KEY
            or not key.isprintable()
            or key.startswith((DRAFT_KEY_PREFIX, AGENT_KEY_PREFIX))
        ):
            raise DomainError(
                "幂等键应为8到100个可见字符 (idempotencyKey: 8..100 printable characters)",
                code="INVALID_IDEMPOTENCY_KEY",
                field="idempotencyKey",
            )
        return key

    async def submit(self, viewer: Viewer, sub: Submission) -> Application:
        if sub.inline is None:
            return await self._submit(viewer, sub)
        try:  # the files in the submission's own transaction (applications/uploads/inline.py)
            return await self._submit(viewer, sub)
        except InlineNotKept:
            pass
        # Checked, not refused so far: the files kept as ordinary uploads first, then
        # referenced; removed again if the submission is refused after all.
        given, created = await sub.inline.materialise(sub.materials)
        try:
            return await self._submit(
                viewer, dataclasses.replace(sub, materials=given, inline=None)
            )
        except BaseException:  # cancelled too: discard touches only uploads no case uses
            await sub.inline.discard(created)
            raise

    async def _submit(self, viewer: Viewer, sub: Submission) -> Application:
        key = self.check_key(sub.idempotency_key)
        if sub.on_behalf_of is not None:
            # 帮办代办: checked against the principal's grant, then submitted as theirs.
            return await AgencyDesk(self).submit_for(viewer, sub)
        if sub.agent_id is not None:  # an agent's keys never meet the principal's own
            key = f"{AGENT_KEY_PREFIX}{sub.agent_id}:{key}"
        if sub.file_errors:  # files refused: a retry of an accepted submission is still answered
            if (earlier := await self._accepted(viewer, key, sub)) is not None:
                return earlier
            raise InputErrors(sub.file_errors)
        # No look-up of the key first for a new application: a first submission (the common
        # case) would pay a round trip for nothing. The unique (applicant, key) index decides
        # at the insert; a retry is answered from there, or below if the request no longer
        # passes the checks (the catalogue changed, the matter was withdrawn): it was accepted
        # once, and stays so. A draft keeps the look-up: its application has the draft's id,
        # so a retry's attach and release would touch the accepted application's evidence.
        if sub.draft_id is not None and (earlier := await self._accepted(viewer, key, sub)):
            return earlier
        # 帮办代办: the agent may attach what the agent uploaded for the principal.
        uploaders = (viewer.user_id,) + ((sub.agent_id,) if sub.agent_id is not None else ())
        raw_choice = sub.result_delivery
        if raw_choice is None and sub.draft_id is not None:
            raw_choice = await self._draft_delivery(viewer, sub.draft_id)
        choice = DeliveryRequest(raw_choice, checked=sub.checked_delivery)
        try:
            matter, situation, form, checked = await self._checked(
                sub.matter_code,
                sub.situation,
                sub.form,
                sub.materials,
                sub.deferral_commitment,
                viewer=viewer,
                uploaders=uploaders,
                delivery=choice,
                inline=sub.inline,
            )
        except DomainError:
            if (earlier := await self._accepted(viewer, key, sub)) is not None:
                return earlier
            raise
        if sub.inline is not None and sub.draft_id is not None:
            raise InlineNotKept()  # a draft's submission takes the step-by-step path below

        now = self.now()
        day = now.astimezone(CHINA).strftime("%Y%m%d")
        receipt = f"{matter.region_code}{day}{await self.store.next_receipt_serial(day):06d}"
        doc: dict[str, Any] = {
            "_id": sub.draft_id or ObjectId(),
            "rev": 0,
            "applicant_id": viewer.user_id,
            "idempotency_key": key,
            "matter_code": matter.code,
            "matter_name": matter.name,
            "situation_code": situation.code,
            "department_code": matter.department_code,
            "department_name": matter.department_name,
            "status": Status.SUBMITTED.value,
            "form": form,
            "materials": [m.to_document() for m in checked.given],
            "pending_supplements": checked.pending,
            "commitment": checked.commitment,
            "receipt_number": receipt,
            "committed_days": matter.committed_days,
            "created_at": now,
            "submitted_at": now,
            "due_at": due_at(now, matter.committed_days),
            "finished_at": None,
            "deficiencies": [],
            "instant_reasons": [],
            "result": None,
            "result_name": matter.result_name,
            "delivery": choice.document,
            "timeline": [
                self._event(viewer, "SUBMIT", Status.DRAFT, Status.SUBMITTED, now).to_document()
            ],
        }
        agent_fields(sub, doc)
        if sub.bundle_id is not None:
            doc["bundle_id"] = sub.bundle_id
        spec: ResultSpec | None = None
        if ServiceMode.INSTANT_APPROVAL in matter.service_modes:
            user, id_number = await self._identity(viewer)  # only 秒批 rules need it
            spec = decide_instantly(doc, matter, user, id_number, checked, now)
        # At rest the form's identity numbers and phones are sealed (after 秒批 read them).
        doc.update(
            form_sealing.sealed(form_sealing.matter_fields([matter]), form, self.auth.keyring)
        )
        if sub.draft_id is None:
            # One transaction (applications/accept.py): the application, its files, its
            # uploads marked, its notice and, for 秒批, the licence issued with it.
            issued = await self._issued_with_case(doc, spec) if spec is not None else None
            if spec is None or issued is not None:
                also, accepted, committed = issued or ([], doc, None)
                try:
                    app = await self._accept(
                        viewer, key, sub, accepted, checked, situation, uploaders, also
                    )
                except AlsoTaken:
                    pass  # the licence's status slot was drawn meanwhile: step by step below
                else:
                    if committed is not None and app.id == doc["_id"]:  # ours, not a resend's
                        await self._after_commit(committed)
                    return app
        if sub.inline is not None:
            raise InlineNotKept()  # the step-by-step path attaches uploads that exist
        # Uploads are marked as this application's evidence before it exists (so they cannot be
        # deleted in between), and released again if it is not written after all.
        try:
            await self._attach(viewer, checked.given, doc["_id"], situation, uploaders)
        except DomainError:  # undone by attach itself; a retry may still have been accepted
            if (earlier := await self._accepted(viewer, key, sub)) is not None:
                return earlier
            raise
        try:
            if sub.draft_id is not None:
                app = await self._submit_draft(viewer, doc, sub.requires)
            else:
                app = await self.store.insert(doc, sub.requires)
        except BaseException as exc:
            await self._release(checked.given, doc["_id"])
            if not isinstance(exc, AlreadyExistsError):
                raise
            # A concurrent copy or an earlier try of this request won the insert: answer with
            # its application.
            winner = await self.store.by_key(viewer.user_id, key)
            if winner is None:  # pragma: no cover - the unique index says it exists
                raise
            return await self._complete(viewer, self._same(winner, sub))
        return await self._complete(viewer, app, spec)

    async def _accept(
        self,
        viewer: Viewer,
        key: str,
        sub: Submission,
        doc: dict[str, Any],
        checked: materials.MaterialCheck,
        situation: Situation,
        uploaders: tuple[ObjectId, ...],
        also: list[Write],
    ) -> Application:
        """A new application with its uploads marked and its first notice (and `also`), all
        or nothing."""
        attach = (
            self.evidence.attach_write(viewer, checked.given, doc["_id"], uploaders=uploaders)
            if self.evidence is not None
            else None
        )
        try:
            return await insert_with_notice(
                self.store,
                doc,
                self.now(),
                attach,
                inline=sub.inline,
                also=also,
                requires=sub.requires,
            )
        except AlreadyExistsError:
            # A concurrent copy or an earlier try of this request won: answer with its
            # application (completed: its notice is written if that try's was not).
            winner = await self.store.by_key(viewer.user_id, key)
            if winner is None:  # pragma: no cover - the unique index says it exists
                raise
            return await self._complete(viewer, self._same(winner, sub))
        except AttachShort:
            if sub.inline is not None:  # found out on the step-by-step path
                raise InlineNotKept() from None
            # An upload is someone else's, unknown or was deleted meanwhile: a retry may still
            # have been accepted; otherwise `_attach` finds which and reports it.
            if (earlier := await self._accepted(viewer, key, sub)) is not None:
                return earlier
            await self._attach(viewer, checked.given, doc["_id"], situation, uploaders)
            await self._release(checked.given, doc["_id"])  # pragma: no cover - fixed meanwhile
            raise DomainError(  # pragma: no cover
                "材料已变更，请重新提交 (materials changed, submit again)",
                code="FORBIDDEN_MATERIAL",
                field="materials",
            ) from None

    async def _issued_with_case(
        self, doc: dict[str, Any], spec: ResultSpec
    ) -> tuple[list[Write], dict[str, Any], Callable[[], Awaitable[None]]] | None:
        """秒批's licence as a write for the case's own transaction, the case as delivered
        (`store.delivered`) and what to run once it committed; None when the result's channel
        cannot be written that way."""
        with_case = getattr(self.sink, "with_case", None)
        if with_case is None:
            return None
        channel, write, committed = await with_case(doc["_id"], doc["applicant_id"], spec)
        return [write], delivered(doc, channel, self.now()), committed

    @staticmethod
    async def _after_commit(step: Callable[[], Awaitable[None]]) -> None:
        """Bookkeeping after the case committed (the licence's status-list count): its failure
        is logged, never the request's (the case and its licence are in)."""
        try:
            await step()
        except Exception:
            log.exception("bookkeeping after an instant approval failed")

    async def _accepted(self, viewer: Viewer, key: str, sub: Submission) -> Application | None:
        """The application an earlier try with this key created, completed; None if none."""
        existing = await self.store.by_key(viewer.user_id, key)
        if existing is None:
            return None
        return await self._complete(viewer, self._same(existing, sub))

    async def _complete(
        self, viewer: Viewer, app: Application, spec: ResultSpec | None = None
    ) -> Application:
        """The steps after the insert: the 秒批 result into the wallet, the applicant's notice.

        Each is idempotent (the licence's id is the application's, the notice is keyed by the
        change), so a retry with the same idempotency key after the database failed between
        them finishes the job exactly once instead of leaving an approval without its licence.
        """
        result = app.result
        if app.status is Status.APPROVED and licence_pending(result):
            if spec is None and any(e.action == "INSTANT_APPROVAL" for e in app.timeline):
                _, id_number = await self._identity(viewer)
                spec = ResultSpec.from_document(result or {}, id_number)
            if spec is not None:
                await deliver_result(self.sink, app.id, app.applicant_id, spec)
                app = await self.store.get(app.id) or app  # as delivered (licence id, event)
        await self._notify_applicant(app, None, app.status, strict=True)
        return app

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
        verify_uploads: bool = False,
        delivery: DeliveryRequest | None = None,
        inline: InlineUploads | None = None,
    ) -> tuple[Matter, Situation, dict[str, Any], materials.MaterialCheck]:
        """Matter, situation, cleaned form and materials; every problem at once, or InputErrors.

        `viewer` is the applicant whose licences the references must be; uploads must be by one
        of `uploaders` (default: the applicant), or sent with the submission (`inline`: checked
        already, not written yet). Without `verify_uploads` their ownership is left to
        `_attach` unless there are other errors."""
        matter = await self._published(matter_code)
        situation = next(
            (s for s in matter.situations if situation_code in (s.code, s.name)),
            matter.situations[0] if situation_code is None else None,
        )
        if situation is None:
            raise DomainError(
                f"事项没有“{situation_code}”这一办事情形 (unknown situation)",
                code="UNKNOWN_SITUATION",
                field="situation",
            )
        cleaned, errors = forms.validate(forms.form_schema(matter, situation.code), form)
        checked = materials.check(matter, situation, given, deferral_commitment)
        errors += checked.errors
        if delivery is not None:  # 结果送达: the choice is checked with everything else
            errors += delivery.check(matter, self.auth.keyring)
        # With other errors every reference is checked now, to report everything at once;
        # without, upload ownership is checked by the attach itself (one update, no look-up).
        referenced = [m for m in checked.given if not (inline and inline.covers(m))]
        errors += await self._evidence_errors(
            viewer,
            situation,
            referenced,
            [f"materials[{given.index(m)}]" for m in referenced],
            uploads=verify_uploads or bool(errors),
            uploaders=uploaders,
        )
        if errors:
            raise InputErrors(errors)
        return matter, situation, cleaned, checked

    @staticmethod
    def _same(existing: Application, sub: Submission) -> Application:
        if existing.matter_code != sub.matter_code:
            raise IdempotencyConflictError()
        return existing

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
        if self.evidence is not None:
            return await self.evidence.check(
                viewer, situation, given, fields, uploads=uploads, uploaders=uploaders
            )
        return [  # fail closed: nothing unverified gets in
            DomainError("材料无法核验 (cannot verify)", code="INVALID_REFERENCE", field="materials")
            for m in given
            if m.provision is not Provision.COMMITMENT
        ][:1]

    async def _attach(
        self,
        viewer: Viewer,
        given: list[MaterialRef],
        app_id: ObjectId,
        situation: Situation | None = None,
        uploaders: tuple[ObjectId, ...] | None = None,
    ) -> None:
        if self.evidence is not None:
            await self.evidence.attach(viewer, given, app_id, situation, uploaders=uploaders)

    async def _release(self, given: list[MaterialRef], app_id: ObjectId) -> None:
        if self.evidence is not None:
            await self.evidence.release(given, app_id)
