"""帮办代办 (F5): an agent submits for a principal under a recorded authorisation.

The principal grants it (`grantAgency`: the agent's phone, optionally a list of matters, an
expiry up to a year ahead) and may revoke it at any time. The grant stores the agent's phone as
its blind index (matched against the agent's own verified phone at each act), sealed
(`agent_phone_cipher`, so `zsb keys reseal` can recompute the index after a master-secret
rotation whether or not the number has an account) and masked for display. Granting to a number
reveals nothing about whether it is registered.

An agent's submission is the principal's application: `applicant_id` is the principal (their
list, their notices, their 秒批 identity), `agent_id` records the agent, and the timeline's
event has the AGENT role with `on_behalf_of` = the principal. Idempotency keys are namespaced
per agent, so an agent's key can never return a case of the principal's own.

On a case the agent submitted, while a grant in force from its applicant names the agent and
covers its matter, the agent may read it and act for the principal: 容缺 supplements, the
一次补正 resubmission, withdrawal (`acting`). Rating stays the principal's own act
(`AGENT_CANNOT_RATE`): 好差评 is the service recipient's judgement. Each act is an AGENT event
on the timeline, is audited, and the principal is told in the inbox (template AGENT_ACTED).
Revoked, expired or out-of-scope grants, and agents below real-name assurance (L2), refuse with
`AGENT_NOT_AUTHORISED`; the cases stay the principal's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from pymongo import ReturnDocument

from app import sealing
from app.db import Document
from app.errors import DomainError, ForbiddenError, InvalidIdError, NotFoundError
from app.ids import object_id_from_global, to_global_id
from app.masking import mask_name, mask_phone
from app.pagination import Connection, SortKey, paginate
from applications.agent_notices import after_act, tell_agent_revoked
from applications.errors import ApplicationNotFoundError
from applications.flow_store import AGENCY_GRANTS
from applications.grant_phones import agent_phone_keys, seal_agent_phone
from applications.models import Application
from applications.staff import audit
from applications.store import Requirement
from auth.identity_numbers import normalize_phone
from auth.models import AssuranceLevel, Role
from auth.permissions import Viewer

if TYPE_CHECKING:
    from applications.service import ApplicationService, Submission

MAX_GRANT_DAYS = 366
MAX_MATTERS = 50
MAX_ACTIVE_GRANTS = 20
AGENT_KEY_PREFIX = "agent:"


@dataclass(frozen=True, slots=True)
class AgencyGrant:
    id: ObjectId
    principal_id: ObjectId
    principal_name: str  # masked
    agent_phone: str  # masked
    matter_codes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_document(cls, doc: Document) -> AgencyGrant:
        return cls(
            id=doc["_id"],
            principal_id=doc["principal_id"],
            principal_name=doc.get("principal_name_masked", ""),
            agent_phone=doc["agent_phone_masked"],
            matter_codes=list(doc.get("matter_codes", [])),
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
            revoked_at=doc.get("revoked_at"),
        )

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


def refused(
    message: str = "没有有效的代办授权 (no valid agency grant)", field: str = "onBehalfOf"
) -> DomainError:
    return DomainError(message, code="AGENT_NOT_AUTHORISED", field=field)


@dataclass(frozen=True, slots=True)
class Acting:
    """Who acts on a case: its applicant, or their agent under a grant in force.

    `actor` goes on the timeline; `applicant` is whose licences (免证办) the materials may name;
    uploads may be the applicant's or, for an agent, the agent's own (who photographed them)."""

    actor: Viewer
    applicant: Viewer
    grant: AgencyGrant | None = None

    @property
    def on_behalf_of(self) -> ObjectId | None:
        return self.applicant.user_id if self.grant is not None else None

    @property
    def uploaders(self) -> tuple[ObjectId, ...]:
        agent = (self.actor.user_id,) if self.grant is not None else ()
        return (self.applicant.user_id, *agent)

    def requirement(self, now: datetime, field: str = "applicationId") -> Requirement | None:
        """What an agent's act needs at the moment it moves the case: its grant still in force
        (unrevoked, unexpired, not deleted with the principal's account), re-checked in the
        same transaction as the move (`store.Requirement`), so a revocation landing after
        `acting` checked the grant refuses the act instead of letting it through. The grant's
        `acts` counter is the write that serialises the two. None for the applicant's own act."""
        if self.grant is None:
            return None
        return Requirement(
            AGENCY_GRANTS,
            {"_id": self.grant.id, "revoked_at": None, "expires_at": {"$gt": now}},
            {"$inc": {"acts": 1}},
            lambda: refused(field=field),
        )


def as_principal(principal_id: ObjectId, agent: Viewer) -> Viewer:
    """The principal as the applicant of an agent's act (their licences, their case)."""
    return Viewer(
        user_id=principal_id,
        session_id=agent.session_id,
        roles=frozenset({Role.CITIZEN}),
        assurance_level=agent.assurance_level,
    )


RECENT = SortKey((("created_at", -1), ("_id", -1)))


class AgencyDesk:
    def __init__(self, svc: ApplicationService) -> None:
        self.svc = svc
        self.grants = svc.store.db[AGENCY_GRANTS]

    def _phone_index(self, phone: str) -> str:
        return sealing.blind_index(self.svc.auth.keyring.phone_index, phone)

    def _phone_indexes(self, phone: str) -> dict[str, list[str]]:
        """A filter on every key generation's index: grants made before a master-secret
        rotation carry the older one until `zsb keys reseal` has passed."""
        return {"$in": sealing.blind_indexes(self.svc.auth.keyring.all("phone_index"), phone)}

    # -- the principal ----------------------------------------------------------------------

    async def grant(
        self,
        viewer: Viewer,
        agent_phone: str,
        matter_codes: list[str] | None,
        expires_at: datetime,
    ) -> AgencyGrant:
        phone = normalize_phone(agent_phone, field="agentPhone")
        now = self.svc.now()
        if expires_at.tzinfo is None:
            raise DomainError("到期时间须带时区 (timezone required)", field="expiresAt")
        if not now < expires_at <= now + timedelta(days=MAX_GRANT_DAYS):
            raise DomainError(
                f"授权期限应在{MAX_GRANT_DAYS}天以内且晚于现在 (expiresAt out of range)",
                code="OUT_OF_RANGE",
                field="expiresAt",
            )
        codes = sorted(set(matter_codes or []))
        if len(codes) > MAX_MATTERS:
            raise DomainError(f"最多指定{MAX_MATTERS}个事项", code="TOO_MANY", field="matterCodes")
        for i, code in enumerate(codes):
            try:
                await self.svc._published(code)
            except NotFoundError as exc:
                raise DomainError(exc.message, code=exc.code, field=f"matterCodes[{i}]") from exc
        principal = await self.svc.auth.get_user(viewer.user_id)
        if principal is None:
            raise ForbiddenError()
        if principal.phone == phone:
            raise DomainError("不能授权给本人 (cannot authorise oneself)", field="agentPhone")
        active = await self.grants.count_documents(
            {"principal_id": viewer.user_id, "revoked_at": None, "expires_at": {"$gt": now}}
        )
        if active >= MAX_ACTIVE_GRANTS:
            raise DomainError(
                f"有效授权最多{MAX_ACTIVE_GRANTS}份", code="TOO_MANY", field="agentPhone"
            )
        doc: Document = {
            "_id": ObjectId(),
            "principal_id": viewer.user_id,
            "principal_name_masked": mask_name(principal.name or "") or "—",
            "agent_phone_index": self._phone_index(phone),
            "agent_phone_cipher": seal_agent_phone(self.svc.auth.keyring, phone),
            "agent_phone_masked": mask_phone(phone),
            "matter_codes": codes,
            "created_at": now,
            "expires_at": expires_at,
            "revoked_at": None,
        }
        await self.grants.insert_one(doc)
        await audit(
            self.svc.store.db,
            "applications.agency.grant",
            viewer,
            to_global_id("AgencyGrant", doc["_id"]),
            {"matters": codes, "expires_at": expires_at.isoformat()},
        )
        return AgencyGrant.from_document(doc)

    async def revoke(self, viewer: Viewer, grant_id: ObjectId) -> AgencyGrant:
        doc = await self.grants.find_one_and_update(
            {"_id": grant_id, "principal_id": viewer.user_id, "revoked_at": None},
            {"$set": {"revoked_at": self.svc.now()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            found = await self.grants.find_one({"_id": grant_id, "principal_id": viewer.user_id})
            if found is None:
                raise NotFoundError("授权不存在 (no such grant)", field="grantId")
            raise DomainError(
                "授权已撤销 (already revoked)", code="ALREADY_REVOKED", field="grantId"
            )
        await audit(
            self.svc.store.db,
            "applications.agency.revoke",
            viewer,
            to_global_id("AgencyGrant", grant_id),
            {},
        )
        revoked = AgencyGrant.from_document(doc)
        if revoked.expires_at > doc["revoked_at"]:  # it was in force: the agent is told
            keys = agent_phone_keys(self.svc.auth.keyring, doc)
            await tell_agent_revoked(self.svc.store.db, revoked, keys)
        return revoked

    async def given(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[AgencyGrant]:
        return await paginate(
            self.grants,
            {"principal_id": viewer.user_id},
            RECENT,
            first,
            after,
            AgencyGrant.from_document,
        )

    # -- the agent --------------------------------------------------------------------------

    async def received(self, viewer: Viewer) -> list[AgencyGrant]:
        """Grants naming the viewer's phone that are still in force."""
        me = await self.svc.auth.get_user(viewer.user_id)
        if me is None:
            return []
        now = self.svc.now()
        cursor = self.grants.find(
            {"agent_phone_index": self._phone_indexes(me.phone), "revoked_at": None}
        ).limit(100)
        return [
            g for g in map(AgencyGrant.from_document, await cursor.to_list(100)) if g.active(now)
        ]

    async def submitted(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Application]:
        """Cases the viewer submitted as an agent whose principal and matter a grant in force
        still covers: a revoked or expired authorisation ends the agent's sight of the
        principal's case files."""
        covered: list[Document] = [
            {"applicant_id": g.principal_id, "matter_code": {"$in": g.matter_codes}}
            if g.matter_codes
            else {"applicant_id": g.principal_id}
            for g in await self.received(viewer)
        ]
        query: Document = {"agent_id": viewer.user_id}
        # (`$or` may not be empty: no grant in force matches nothing, through the same paging.)
        if covered:
            query["$or"] = covered
        else:
            query["applicant_id"] = {"$in": []}
        return await paginate(
            self.svc.store.apps,
            query,
            RECENT,
            first,
            after,
            Application.from_document,
        )

    async def in_force(
        self, agent: Viewer, principal_id: ObjectId, matter_codes: list[str]
    ) -> AgencyGrant | None:
        """A grant in force from the principal naming the agent's phone and covering every
        one of `matter_codes`; None if there is none."""
        me = await self.svc.auth.get_user(agent.user_id)
        if me is None:
            return None
        grants = await self.grants.find(
            {
                "agent_phone_index": self._phone_indexes(me.phone),
                "principal_id": principal_id,
                "revoked_at": None,
                "expires_at": {"$gt": self.svc.now()},
            }
        ).to_list(MAX_ACTIVE_GRANTS)
        return next(
            (
                AgencyGrant.from_document(g)
                for g in grants
                if not g.get("matter_codes") or set(matter_codes) <= set(g["matter_codes"])
            ),
            None,
        )

    async def grant_for(
        self,
        agent: Viewer,
        principal_id: ObjectId,
        matter_codes: list[str],
        field: str = "onBehalfOf",
    ) -> AgencyGrant:
        """The grant an agent's act rests on, or AGENT_NOT_AUTHORISED."""
        if principal_id == agent.user_id:
            raise refused("不能代办本人的事项 (agent and principal are the same person)", field)
        # An agent acts with real-name assurance: 代办 for the elderly must not be anonymous.
        if agent.assurance_level.rank < AssuranceLevel.L2.rank:
            raise refused("代办人须完成实名认证 (agent must be real-name verified)", field)
        grant = await self.in_force(agent, principal_id, matter_codes)
        if grant is None:
            raise refused(field=field)
        return grant

    async def principal_of(
        self, agent: Viewer, on_behalf_of: str, matter_codes: list[str]
    ) -> tuple[Viewer, AgencyGrant]:
        """`onBehalfOf` checked: the principal (as applicant) and the grant covering the act."""
        try:
            principal_id = object_id_from_global(str(on_behalf_of), "User", field="onBehalfOf")
        except InvalidIdError as exc:
            raise refused() from exc
        grant = await self.grant_for(agent, principal_id, matter_codes)
        return as_principal(principal_id, agent), grant

    async def may_read(self, viewer: Viewer, app: Application) -> bool:
        """The agent who submitted a case reads it while a grant in force covers it."""
        if app.agent_id != viewer.user_id:
            return False
        return await self.in_force(viewer, app.applicant_id, [app.matter_code]) is not None

    async def acting(self, viewer: Viewer, app: Application) -> Acting:
        """Who acts on `app`: its applicant, or the agent who submitted it under a grant in
        force covering its matter. Anyone else: not found (existence is not leaked)."""
        if app.applicant_id == viewer.user_id:
            return Acting(viewer, viewer)
        if app.agent_id != viewer.user_id:
            raise ApplicationNotFoundError()
        grant = await self.grant_for(viewer, app.applicant_id, [app.matter_code], "applicationId")
        return Acting(viewer, as_principal(app.applicant_id, viewer), grant)

    async def submit_for(self, viewer: Viewer, sub: Submission) -> Application:
        """The agent's submission, checked against a grant in force, made as the principal's."""
        principal, grant = await self.principal_of(
            viewer, str(sub.on_behalf_of), [str(sub.matter_code)]
        )
        acting = Acting(viewer, principal, grant)
        agent_sub = dataclasses.replace(
            sub,
            on_behalf_of=None,
            agent_id=viewer.user_id,
            grant_id=grant.id,
            # The grant is re-checked in the transaction that writes the case (the one-batch
            # insert, or on the step-by-step paths the draft's update or the plain insert).
            requires=acting.requirement(self.svc.now(), field="onBehalfOf"),
        )
        app = await self.svc.submit(principal, agent_sub)
        if app.agent_id != viewer.user_id:  # the key named a case of someone else's making
            raise refused()
        # Audited and told to the principal; keyed by the case, so a retry tells them once.
        await after_act(self.svc.store.db, acting, app, "SUBMIT", key=f"agent:{app.id}:SUBMIT")
        return app


def agent_fields(sub: Any, doc: Document) -> None:
    """Mark a new case as submitted by an agent (called by `ApplicationService.submit`)."""
    if sub.agent_id is None:
        return
    doc["agent_id"] = sub.agent_id
    doc["agency_grant_id"] = sub.grant_id
    first = doc["timeline"][0]
    first["actor_id"] = sub.agent_id
    first["actor_role"] = "AGENT"
    first["on_behalf_of"] = doc["applicant_id"]
