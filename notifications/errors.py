"""Error codes of devices, the inbox, templates and campaigns (all `userErrors`)."""

from __future__ import annotations

from app.errors import DomainError


class InvalidTokenError(DomainError):
    code = "INVALID_DEVICE_TOKEN"

    def __init__(self) -> None:
        super().__init__("推送令牌格式不正确 (malformed push token)", field="token")


class UnknownTemplateError(DomainError):
    code = "UNKNOWN_TEMPLATE"

    def __init__(self, template: str) -> None:
        super().__init__(f"未知的消息模板 {template} (unknown template)", field="template")


class TemplateError(DomainError):
    """A template whose text and declared fields disagree: raised when it is defined."""

    code = "INVALID_TEMPLATE"


class MissingDataError(DomainError):
    """A template rendered without all of its data: an error, never a blank in the message."""

    code = "MISSING_TEMPLATE_DATA"

    def __init__(self, missing: list[str]) -> None:
        names = ", ".join(sorted(missing))
        super().__init__(f"消息缺少数据: {names} (missing template data)", field="data")
        self.missing = missing


class InvalidTargetError(DomainError):
    code = "INVALID_TARGET"


class EmptyAudienceError(DomainError):
    code = "EMPTY_AUDIENCE"

    def __init__(self) -> None:
        super().__init__("没有符合条件的接收人 (the target matches nobody)", field="target")


class FourEyesRequiredError(DomainError):
    code = "FOUR_EYES_REQUIRED"

    def __init__(self) -> None:
        super().__init__(
            "推送须由另一名运营人员审批 (a second operator must approve)", field="campaignId"
        )


class InvalidTransitionError(DomainError):
    code = "INVALID_STATE"

    def __init__(self, message: str, field: str = "campaignId") -> None:
        super().__init__(message, field=field)
