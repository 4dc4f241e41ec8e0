"""Error codes of 申办 (stable: clients switch on them)."""

from __future__ import annotations

from app.errors import DomainError, NotFoundError


class ApplicationNotFoundError(NotFoundError):
    def __init__(self, field: str = "applicationId"):
        super().__init__("申请不存在 (no such application)", field=field)


class InvalidTransitionError(DomainError):
    code = "INVALID_TRANSITION"

    def __init__(self, status: str, action: str):
        super().__init__(
            f"当前状态（{status}）不能{action} (not allowed in status {status})",
            field="applicationId",
        )


class ConcurrentChangeError(DomainError):
    code = "CONCURRENT_CHANGE"

    def __init__(self) -> None:
        super().__init__(
            "申请已被他人处理，请刷新后重试 (changed meanwhile)", field="applicationId"
        )


class IdempotencyConflictError(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__(
            "该幂等键已用于另一事项的申请 (idempotency key used for another matter)",
            field="idempotencyKey",
        )
