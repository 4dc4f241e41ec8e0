"""Error codes of the matter catalogue."""

from __future__ import annotations

from app.errors import DomainError, NotFoundError


class QualityError(DomainError):
    """A guide breaks a data-quality rule; `rule` names it (the error's code)."""

    def __init__(self, rule: str, field: str | None, message: str):
        super().__init__(f"{message} ({rule})", code=rule, field=field)
        self.rule = rule


class InvalidSearchError(DomainError):
    code = "INVALID_SEARCH"

    def __init__(self, message: str):
        super().__init__(message, field="query")


class InvalidFilterError(DomainError):
    code = "INVALID_FILTER"


class MatterNotFoundError(NotFoundError):
    def __init__(self, code: str, field: str = "code"):
        super().__init__(f"事项 {code} 不存在 (no such matter)", field=field)


class NoDraftError(DomainError):
    code = "NO_DRAFT"

    def __init__(self, code: str):
        super().__init__(f"事项 {code} 没有待发布的草稿 (nothing to publish)", field="code")


class NotPublishedError(DomainError):
    code = "NOT_PUBLISHED"

    def __init__(self, code: str):
        super().__init__(f"事项 {code} 当前未发布 (not published)", field="code")


class StaleVersionError(DomainError):
    code = "STALE_VERSION"

    def __init__(self) -> None:
        super().__init__(
            "草稿已被他人修改，请刷新后重试 (draft changed meanwhile)", field="expectedVersion"
        )


class ImportFormatError(DomainError):
    code = "INVALID_IMPORT"

    def __init__(self, message: str):
        super().__init__(message, field="content")
