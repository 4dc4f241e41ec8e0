"""一件事 (B8): one merged form and one set of materials create every member application.

`submitBundle` first checks every member exactly as `submitApplication` would (the member's
form is the merged form cut to the fields its schema has; its materials are those its situation
names) and reports every problem at once, deduplicated, against the merged input's own fields;
on any error nothing is written. Then:

1. one `insert_one` of the bundle document (state SUBMITTING, the request kept), unique on
   (applicant, idempotency key): two concurrent first sends both pass the check, one insert
   wins and the loser carries on with the winner's bundle;
2. each member is submitted through `ApplicationService.submit` with the key
   `bundle:<bundle id>:<matter code>`, so creating a member is itself idempotent;
3. the bundle is marked COMPLETE.

A process that dies between 1 and 3 leaves a SUBMITTING bundle; a retry with the same key (or
the worker's housekeeping, `finish_stale`) completes it, and each member exists exactly once.
Housekeeping gives up on a bundle after MAX_FINISH_ATTEMPTS failed passes (state FAILED; a
retry of the request may still complete it) or at once when its applicant was erased
(ABANDONED).
The aggregate status is derived from the members on read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.db import Document
from app.errors import DomainError, InputErrors, NotFoundError
from app.pagination import Connection, SortKey, paginate
from applications import form_sealing, forms
from applications.agency import AGENT_KEY_PREFIX, AgencyDesk
from applications.agent_notices import after_bundle
from applications.delivery import bundle_choice, member_choice
from applications.flow_store import BUNDLES
from applications.materials import MAX_MATERIALS
from applications.models import Application, MaterialRef, Provision
from applications.workflow import Status
from auth.models import Role
from auth.permissions import Viewer
from matters.models import Bundle, Matter, Situation

if TYPE_CHECKING:
    from applications.service import ApplicationService

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)
STALE_BATCH = 100
MAX_FINISH_ATTEMPTS = 5  # housekeeping passes (hourly) before a bundle is FAILED
MAX_MEMBERS = 20
_MATERIAL_FIELD = re.compile(r"^materials\[(\d+)\]")


class BundleStatus(StrEnum):
    SUBMITTING = "SUBMITTING"  # members still being created (a retry finishes it)
    IN_PROGRESS = "IN_PROGRESS"  # members with clerks
    ACTION_REQUIRED = "ACTION_REQUIRED"  # some member waits for the applicant (补正, 容缺)
    APPROVED = "APPROVED"  # every member approved: 一次办好
    PARTIALLY_APPROVED = "PARTIALLY_APPROVED"  # all finished, some not approved
    CLOSED = "CLOSED"  # all finished, none approved
    FAILED = "FAILED"  # housekeeping gave up (`last_error`); a retried request may finish it
    ABANDONED = "ABANDONED"  # never completed: its applicant was erased


@dataclass(frozen=True, slots=True)
class BundleApplication:
    id: ObjectId
    applicant_id: ObjectId
    bundle_code: str
    bundle_name: str
    state: str
    created_at: datetime
    matter_codes: list[str]
    members: list[Application]

    @property
    def status(self) -> BundleStatus:
        if self.state in (BundleStatus.FAILED, BundleStatus.ABANDONED):
            return BundleStatus(self.state)
        if self.state != "COMPLETE" or len(self.members) < len(self.matter_codes):
            return BundleStatus.SUBMITTING
        statuses = {m.status for m in self.members}
        if statuses & {Status.RETURNED, Status.ACCEPTED_PENDING_SUPPLEMENT}:
            return BundleStatus.ACTION_REQUIRED
        finished = {Status.APPROVED, Status.REJECTED, Status.WITHDRAWN, Status.REVOKED}
        if not statuses <= finished:
            return BundleStatus.IN_PROGRESS
        if statuses == {Status.APPROVED}:
            return BundleStatus.APPROVED
        return (
            BundleStatus.PARTIALLY_APPROVED if Status.APPROVED in statuses else BundleStatus.CLOSED
        )


RECENT = SortKey((("created_at", -1), ("_id", -1)))


def _pick_situation(matter: Matter, wanted: str | None) -> Situation | None:
    if wanted is None:
        return matter.situations[0]
    return next((s for s in matter.situations if wanted in (s.code, s.name)), None)


class BundleDesk:
    def __init__(self, svc: ApplicationService) -> None:
        self.svc = svc
        self.bundles = svc.store.db[BUNDLES]

    async def submit(
        self,
        viewer: Viewer,
        bundle_code: str,
        situation_by_matter: Any,
        form: Any,
        materials: list[MaterialRef],
        idempotency_key: str,
        deferral_commitment: bool,
        on_behalf_of: str | None = None,
        result_delivery: Any = None,
    ) -> BundleApplication:
        self.svc.check_key(idempotency_key)
        agency: dict[str, Any] = {}
        applicant, key, grant = viewer, idempotency_key, None
        if on_behalf_of is not None:
            # 帮办代办: one grant in force must cover every member matter (checked before even a
            # retry is answered); the bundle is the principal's, its key namespaced per agent.
            codes = list((await self._bundle(bundle_code)).matter_codes)
            applicant, grant = await AgencyDesk(self.svc).principal_of(viewer, on_behalf_of, codes)
            agency = {"agent_id": viewer.user_id, "agency_grant_id": grant.id}
            key = f"{AGENT_KEY_PREFIX}{viewer.user_id}:{idempotency_key}"
        found = await self.bundles.find_one(
            {"applicant_id": applicant.user_id, "idempotency_key": key}
        )
        if found is not None:
            done = await self._finish(applicant, self._same(found, bundle_code))
            if grant is not None:  # a retry: the principal's notice is keyed, sent once
                await after_bundle(self.svc.store.db, viewer, grant, done.id, done.bundle_name)
            return done
        bundle = await self._bundle(bundle_code)
        members = [r.matter for r in await self.svc.matters.bundle_members(bundle)]
        if len(members) != len(bundle.matter_codes):
            raise DomainError(
                "该一件事暂不可办理 (a member matter is not published)",
                code="BUNDLE_UNAVAILABLE",
                field="bundleCode",
            )
        situations, delivery = await self._check_all(
            applicant,
            members,
            situation_by_matter,
            form,
            materials,
            deferral_commitment,
            # 帮办代办: the agent's own uploads serve too (as for single submissions).
            uploaders=(applicant.user_id, viewer.user_id) if grant else None,
            result_delivery=result_delivery,
        )
        keyring = self.svc.auth.keyring
        doc: Document = {
            "_id": ObjectId(),
            "applicant_id": applicant.user_id,
            "idempotency_key": key,
            "bundle_code": bundle.code,
            "bundle_name": bundle.name,
            "state": "SUBMITTING",
            "created_at": self.svc.now(),
            "matter_codes": [m.code for m in members],
            "request": {
                "situations": situations,
                # Identity numbers and phones sealed (kept, like the masked form, after the
                # members exist: the request is the bundle's record of what was submitted).
                **form_sealing.sealed(form_sealing.matter_fields(members), form, keyring),
                "materials": [m.to_document() for m in materials],
                "deferral_commitment": deferral_commitment,
                "delivery": delivery,  # 结果送达 per member; the address sealed
            },
            **agency,
        }
        try:
            await self.bundles.insert_one(doc)
        except DuplicateKeyError:
            # A concurrent copy of this request won: finish (and answer with) its bundle.
            winner = await self.bundles.find_one(
                {"applicant_id": applicant.user_id, "idempotency_key": key}
            )
            if winner is None:  # pragma: no cover - the unique index says it exists
                raise
            doc = self._same(winner, bundle_code)
        done = await self._finish(applicant, doc)
        if grant is not None:
            await after_bundle(self.svc.store.db, viewer, grant, done.id, done.bundle_name)
        return done

    async def _bundle(self, bundle_code: str) -> Bundle:
        bundle = (
            await self.svc.matters.bundle(bundle_code) if isinstance(bundle_code, str) else None
        )
        if bundle is None:
            raise NotFoundError("一件事不存在 (no such bundle)", field="bundleCode")
        return bundle

    @staticmethod
    def _same(doc: Document, bundle_code: str) -> Document:
        if str(bundle_code).upper() != doc["bundle_code"]:
            raise DomainError(
                "该幂等键已用于另一件事 (idempotency key used for another bundle)",
                code="IDEMPOTENCY_KEY_REUSED",
                field="idempotencyKey",
            )
        return doc

    async def _check_all(
        self,
        viewer: Viewer,
        members: list[Matter],
        situation_by_matter: Any,
        form: Any,
        materials: list[MaterialRef],
        deferral_commitment: bool,
        uploaders: tuple[ObjectId, ...] | None = None,
        result_delivery: Any = None,
    ) -> tuple[dict[str, str], Document | None]:
        """Every member's check; the errors of all of them at once, against the merged input.
        Returns the situation per member and the checked 结果送达 choice (`bundle_choice`)."""
        errors: list[DomainError] = []
        chosen = situation_by_matter or {}
        if not isinstance(chosen, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in chosen.items()
        ):
            raise DomainError(
                "办事情形应为 {事项编码: 情形} (situationByMatter must map codes to situations)",
                field="situationByMatter",
            )
        if not isinstance(form, dict) or len(form) > forms.MAX_FIELDS:
            raise DomainError("表单应为对象 (form must be an object)", field="form")
        if len(materials) > MAX_MATERIALS:
            raise DomainError("材料过多 (too many materials)", code="TOO_LONG", field="materials")
        if len(chosen) > MAX_MEMBERS:
            raise DomainError(
                "办事情形过多 (too many entries)", code="TOO_LONG", field="situationByMatter"
            )
        codes = {m.code for m in members}
        for code in chosen:
            if code not in codes:
                errors.append(
                    DomainError(
                        f"“{code[:40]}”不是本一件事的事项",
                        code="UNKNOWN_MATTER",
                        field=f"situationByMatter.{code[:40]}",
                    )
                )
        known_fields: set[str] = set()
        known_materials: set[str] = set()
        situations: dict[str, str] = {}
        for matter in members:
            situation = _pick_situation(matter, chosen.get(matter.code))
            if situation is None:
                errors.append(
                    DomainError(
                        f"事项“{matter.name}”没有“{chosen[matter.code][:40]}”这一办事情形",
                        code="UNKNOWN_SITUATION",
                        field=f"situationByMatter.{matter.code}",
                    )
                )
                continue
            situations[matter.code] = situation.code
            props = set(forms.form_schema(matter, situation.code).get("properties", {}))
            known_fields |= props
            names = {m.name for m in situation.materials}
            known_materials |= names
            index = [i for i, m in enumerate(materials) if m.name in names]
            try:
                await self.svc._checked(
                    matter.code,
                    situation.code,
                    {k: v for k, v in form.items() if k in props},
                    [materials[i] for i in index],
                    deferral_commitment,
                    viewer=viewer,
                    # Members are created one by one: every reference is checked up front, so
                    # a foreign upload cannot stop the bundle after its first member exists.
                    verify_uploads=True,
                    uploaders=uploaders,
                )
            except DomainError as exc:
                errors += [_remap(e, index) for e in exc.errors]
        delivery, delivery_errors = bundle_choice(members, result_delivery, self.svc.auth.keyring)
        errors += delivery_errors
        errors += [
            DomainError(f"表单没有“{k[:40]}”这一项", code="UNKNOWN_FIELD", field=f"form.{k[:40]}")
            for k in form
            if k not in known_fields
        ]
        errors += [
            DomainError(
                f"本一件事不需要“{m.name[:40]}”",
                code="UNKNOWN_MATERIAL",
                field=f"materials[{i}].name",
            )
            for i, m in enumerate(materials)
            if m.name not in known_materials
        ]
        if errors:
            seen: set[tuple[str | None, str, str]] = set()
            unique = []
            for e in errors:
                if (e.field, e.code, e.message) not in seen:
                    seen.add((e.field, e.code, e.message))
                    unique.append(e)
            raise InputErrors(unique)
        return situations, delivery

    async def _finish(self, viewer: Viewer, doc: Document) -> BundleApplication:
        from applications.service import Submission

        if doc["state"] != "COMPLETE":
            request = doc["request"]
            form = form_sealing.open_document(request, self.svc.auth.keyring)
            given = [
                MaterialRef(m["name"], Provision(m["provision"]), m.get("reference"))
                for m in request["materials"]
            ]
            for code in doc["matter_codes"]:
                matter = await self.svc._published(code)
                situation = _pick_situation(matter, request["situations"][code])
                props = set(forms.form_schema(matter, request["situations"][code])["properties"])
                names = {m.name for m in situation.materials} if situation else set()
                await self.svc.submit(
                    viewer,
                    Submission(
                        matter_code=code,
                        situation=request["situations"][code],
                        form={k: v for k, v in form.items() if k in props},
                        materials=[m for m in given if m.name in names],
                        idempotency_key=f"bundle:{doc['_id']}:{code}",
                        deferral_commitment=request["deferral_commitment"],
                        bundle_id=doc["_id"],
                        agent_id=doc.get("agent_id"),  # 帮办代办: members are the agent's act
                        grant_id=doc.get("agency_grant_id"),
                        checked_delivery=member_choice(request.get("delivery"), code),
                    ),
                )
            done: Document = {"state": "COMPLETE"}
            if (request.get("delivery") or {}).get("address") is not None:
                # Every member holds its sealed copy now: the bundle needs the address no more.
                done["request.delivery.address"] = None
            await self.bundles.update_one({"_id": doc["_id"]}, {"$set": done})
            doc = {**doc, "state": "COMPLETE"}
        return await self._view(doc)

    async def _view(self, doc: Document) -> BundleApplication:
        return (await self.views([doc]))[0]

    async def views(self, docs: list[Document]) -> list[BundleApplication]:
        """Bundles with their members: one query for a whole page (no N+1)."""
        found: dict[ObjectId, list[Application]] = {d["_id"]: [] for d in docs}
        cursor = self.svc.store.apps.find({"bundle_id": {"$in": list(found)}})
        async for member in cursor:
            found[member["bundle_id"]].append(Application.from_document(member))
        result = []
        for doc in docs:
            order = {c: i for i, c in enumerate(doc["matter_codes"])}
            members = sorted(found[doc["_id"]], key=lambda a: order.get(a.matter_code, len(order)))
            result.append(
                BundleApplication(
                    id=doc["_id"],
                    applicant_id=doc["applicant_id"],
                    bundle_code=doc["bundle_code"],
                    bundle_name=doc["bundle_name"],
                    state=doc["state"],
                    created_at=doc["created_at"],
                    matter_codes=list(doc["matter_codes"]),
                    members=members,
                )
            )
        return result

    async def get(self, viewer: Viewer, bundle_id: ObjectId) -> BundleApplication | None:
        doc = await self.bundles.find_one({"_id": bundle_id})
        if doc is None:
            return None  # existence is not leaked
        if doc["applicant_id"] != viewer.user_id and (
            doc.get("agent_id") != viewer.user_id  # the agent, while a grant covers it all
            or await AgencyDesk(self.svc).in_force(viewer, doc["applicant_id"], doc["matter_codes"])
            is None
        ):
            return None
        return await self._view(doc)

    async def mine(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Document]:
        return await paginate(
            self.bundles, {"applicant_id": viewer.user_id}, RECENT, first, after, lambda d: d
        )

    async def finish_stale(self, now: datetime) -> int:
        """Housekeeping: complete bundles a dead process left SUBMITTING (as their applicant).

        Oldest first, each on its own: a bundle that fails is logged, its `finish_attempts`
        and `last_error` recorded, and the pass goes on; after MAX_FINISH_ATTEMPTS it is
        FAILED, and a bundle whose applicant was erased is ABANDONED, so neither comes back."""
        done = 0
        cursor = (
            self.bundles.find({"state": "SUBMITTING", "created_at": {"$lt": now - STALE_AFTER}})
            .sort([("created_at", 1), ("_id", 1)])
            .limit(STALE_BATCH)
        )
        for doc in await cursor.to_list(STALE_BATCH):
            try:
                user = await self.svc.auth.get_user(doc["applicant_id"])
                if user is None or doc.get("applicant_erased_at") is not None:
                    # Nobody to submit for any more: the remaining members will never exist.
                    await self._give_up(doc, "ABANDONED", "applicant erased")
                    continue
                applicant = Viewer(
                    user_id=user.id,
                    session_id="housekeeping",
                    roles=frozenset({Role.CITIZEN}),
                    assurance_level=user.assurance_level,
                )
                await self._finish(applicant, doc)
                done += 1
            except Exception as exc:  # one bad bundle must not stop the others
                log.exception("could not finish a stale bundle", extra={"bundle": str(doc["_id"])})
                await self._record_failure(doc, _describe(exc))
        return done

    async def _record_failure(self, doc: Document, error: str) -> None:
        attempts = int(doc.get("finish_attempts", 0)) + 1
        update: Document = {"$set": {"finish_attempts": attempts, "last_error": error}}
        if attempts >= MAX_FINISH_ATTEMPTS:
            update["$set"]["state"] = "FAILED"
        # Guarded on the state: a concurrent retry that completed the bundle stays COMPLETE.
        await self.bundles.update_one({"_id": doc["_id"], "state": "SUBMITTING"}, update)

    async def _give_up(self, doc: Document, state: str, error: str) -> None:
        await self.bundles.update_one(
            {"_id": doc["_id"], "state": "SUBMITTING"},
            {"$set": {"state": state, "last_error": error}},
        )


def _describe(exc: Exception) -> str:
    """What went wrong, without personal data: the class and the stable error codes."""
    if isinstance(exc, DomainError):
        return f"{type(exc).__name__}: " + ",".join(sorted({e.code for e in exc.errors}))
    return type(exc).__name__


def _remap(error: DomainError, index: list[int]) -> DomainError:
    """A member's `materials[j]` is the merged list's `materials[index[j]]`."""
    field = error.field or ""
    match = _MATERIAL_FIELD.match(field)
    if match:
        field = f"materials[{index[int(match.group(1))]}]{field[match.end() :]}"
    return DomainError(error.message, code=error.code, field=field or None)
