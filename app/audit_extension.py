"""Every successful mutation by a clerk, operator or admin goes to the audit log.

Domains record their own security events (sign-ins, key rotation, refresh reuse, privacy acts);
this extension makes sure no privileged change through the API goes unrecorded, whichever domain
owns it: action `api.<mutation>`, the actor and roles, the target id from the input. A mutation
whose payload carries `userErrors` changed nothing and is not recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from strawberry.extensions import SchemaExtension

from app.audit import AuditEvent
from app.root_fields import mutation_root_fields
from auth.models import Role

PRIVILEGED = frozenset({Role.CLERK, Role.OPERATOR, Role.ADMIN})
_TARGET_KEYS = ("applicationId", "licenceId", "campaignId", "grantId", "delegationId", "code")


def _target(variables: dict[str, Any] | None) -> str | None:
    """The object a mutation acted on, when its input names one (ids are opaque global ids)."""
    for value in (variables or {}).values():
        if isinstance(value, dict):
            for key in _TARGET_KEYS:
                if isinstance(value.get(key), str):
                    return str(value[key])[:200]
    return None


class PrivilegedAudit(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context
        viewer = getattr(ctx.context, "viewer", None)
        if viewer is None or not PRIVILEGED.intersection(viewer.roles):
            return
        # Fragments expanded (app/root_fields.py): a wrapped act is recorded like a plain one.
        fields = mutation_root_fields(ctx.graphql_document, ctx.operation_name)
        if not fields:
            return
        data = getattr(ctx.result, "data", None) or {}
        audit = ctx.context.state.audit()
        seen: set[str] = set()
        for selection in fields:
            key = (selection.alias or selection.name).value  # aliases cannot rename the act
            if key in seen:  # the same response key selected twice runs once
                continue
            seen.add(key)
            payload = data.get(key)
            # Nothing changed: no payload, or userErrors (when the client selected them; a
            # failure whose errors were not selected is recorded, which errs on the safe side).
            if payload is None or (isinstance(payload, dict) and payload.get("userErrors")):
                continue
            await audit.record(
                AuditEvent(
                    f"api.{selection.name.value}",
                    viewer.user_id,
                    tuple(sorted(r.value for r in viewer.roles)),
                    target=_target(ctx.variables),
                )
            )
