"""Who is asking: the signed-in viewer and the checks every domain's services make on it."""

from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId

from app.errors import ForbiddenError, UnauthenticatedError
from auth.models import AssuranceLevel, Role


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: ObjectId
    session_id: str
    roles: frozenset[Role]
    assurance_level: AssuranceLevel
    organization_code: str | None = None
    scenes: frozenset[str] = frozenset()
    department_code: str | None = None

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def require_role(self, *roles: Role) -> Viewer:
        if not self.has_role(*roles):
            raise ForbiddenError()
        return self

    def require_assurance(self, level: AssuranceLevel) -> Viewer:
        if self.assurance_level.rank < level.rank:
            raise ForbiddenError(
                f"需要 {level.value} 级实名认证 (assurance {level.value} required)"
            )
        return self

    def is_self(self, user_id: ObjectId) -> bool:
        return self.user_id == user_id


def require_viewer(viewer: Viewer | None, auth_error: UnauthenticatedError | None = None) -> Viewer:
    """The viewer, or the reason the request is not signed in (an expired token says so)."""
    if viewer is None:
        raise auth_error or UnauthenticatedError()
    return viewer
