"""帮办代办: what follows each act of an agent — an audit record, and the principal's notice;
and the agent's notice when a principal withdraws their authorisation (`tell_agent_revoked`).

The principal hears of every act done in their name (template AGENT_ACTED: the agent's masked
phone, the matter, what was done), besides the usual status notices. Each notice is keyed by the
step it reports, so a retried request tells the principal once. A failure to notify is logged
and never undoes the act, as for status notices.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from app.ids import to_global_id
from applications.models import Application
from applications.staff import audit
from auth.directory import UserDirectory
from auth.permissions import Viewer
from notifications import service as notifications_service

if TYPE_CHECKING:
    from applications.agency import Acting, AgencyGrant

log = logging.getLogger(__name__)

# What the principal's notice says the agent did (AGENT_ACTED's `act`).
ACT_NAMES = {
    "SUBMIT": "代为提交申请",
    "SUBMIT_BUNDLE": "代为提交一件事申请",
    "SUPPLEMENT": "代为补交材料",
    "RESUBMIT": "代为补正并重新提交",
    "WITHDRAW": "代为撤回申请",
    "COMPLAINT": "代为投诉",  # submitFeedback (applications/feedback.py), a TicketKind
    "CANNOT_GET_DONE": "代为反映“办不成事”",
}


async def after_act(
    db: AsyncDatabase[Document],
    acting: Acting,
    app: Application,
    action: str,
    *,
    key: str | None = None,
) -> None:
    """An agent's act on a case: audited (`applications.agency.<action>`), the principal told.
    Nothing for the applicant's own acts. `key` defaults to the step (the timeline's length)."""
    if acting.grant is None:
        return
    gid = to_global_id("Application", app.id)
    await audit(
        db,
        f"applications.agency.{action.lower()}",
        acting.actor,
        gid,
        {"grant": to_global_id("AgencyGrant", acting.grant.id), "matter": app.matter_code},
    )
    await tell_principal(
        db,
        acting.grant,
        app.matter_name,
        action,
        f"applications/{gid}",
        key=key or f"agent:{app.id}:{action}:{len(app.timeline)}",
    )


async def after_bundle(
    db: AsyncDatabase[Document],
    agent: Viewer,
    grant: AgencyGrant,
    bundle_id: ObjectId,
    name: str,
) -> None:
    """An agent's 一件事 submission: audited; the principal told once for the whole bundle."""
    gid = to_global_id("BundleApplication", bundle_id)
    await audit(
        db,
        "applications.agency.submit_bundle",
        agent,
        gid,
        {"grant": to_global_id("AgencyGrant", grant.id)},
    )
    await tell_principal(
        db, grant, name, "SUBMIT_BUNDLE", f"bundles/{gid}", key=f"agent:{bundle_id}:SUBMIT_BUNDLE"
    )


async def tell_principal(
    db: AsyncDatabase[Document],
    grant: AgencyGrant,
    matter_name: str,
    action: str,
    target: str,
    key: str,
) -> None:
    try:
        await notifications_service.notify(
            db,
            grant.principal_id,
            "AGENT_ACTED",
            {
                "agent_phone": grant.agent_phone,  # masked
                "matter_name": matter_name,
                "act": ACT_NAMES[action],
                "target": target,
            },
            key=key,
        )
    except Exception:
        log.exception("could not tell the principal of an agent's act")


async def tell_agent_revoked(
    db: AsyncDatabase[Document], grant: AgencyGrant, agent_phone_keys: Sequence[str]
) -> None:
    """The agent hears that a grant in force was revoked (template AGENCY_REVOKED, naming the
    principal masked), if the agent's phone has an account. `agent_phone_keys`: the phone's
    blind index under every key generation read (`agency.agent_phone_keys`), as `in_force`
    matches, so a rotation half done (grant and account indexed under different generations)
    still finds the agent. The principal learns nothing from it: the revocation's answer is the
    same either way, and a failure is logged, never reported. Keyed by the grant: told once."""
    try:
        agent_id = await UserDirectory(db).active_holder(agent_phone_keys)
        if agent_id is None:
            return
        await notifications_service.notify(
            db,
            agent_id,
            "AGENCY_REVOKED",
            {"principal_name": grant.principal_name or "—"},  # masked (张*明)
            key=f"agency-revoked:{grant.id}",
        )
    except Exception:
        log.exception("could not tell the agent of a revoked grant")
