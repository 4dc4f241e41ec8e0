"""Error codes of the licence wallet; all are `userErrors` except access failures."""

from __future__ import annotations

from app.errors import DomainError, NotFoundError


class LicenceNotFoundError(NotFoundError):
    def __init__(self, field: str = "licenceId") -> None:
        # The same answer for "does not exist" and "not yours": ids reveal nothing.
        super().__init__("证照不存在 (no such licence)", field=field)


class LicenceNotValidError(DomainError):
    """A licence that is SUSPENDED, REVOKED or EXPIRED cannot be shown (亮证)."""

    def __init__(self, status: str) -> None:
        messages = {
            "SUSPENDED": "证照已被暂停使用，无法亮证 (licence suspended)",
            "REVOKED": "证照已被注销，无法亮证 (licence revoked)",
            "EXPIRED": "证照已过有效期，无法亮证 (licence expired)",
        }
        super().__init__(
            messages.get(status, "证照状态异常 (licence not valid)"),
            code=f"LICENCE_{status}",
            field="licenceId",
        )


class AssuranceRequiredError(DomainError):
    code = "ASSURANCE_REQUIRED"

    def __init__(self, level: str) -> None:
        super().__init__(
            f"该证照亮证需要 {level} 级实名认证（刷脸） (assurance {level} required)",
            field="licenceId",
        )


class InvalidTransitionError(DomainError):
    code = "INVALID_TRANSITION"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="licenceId")


class InvalidInputError(DomainError):
    code = "INVALID_INPUT"
