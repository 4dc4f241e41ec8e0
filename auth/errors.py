"""Error codes of sign-in and identity; all are `userErrors` except access failures."""

from __future__ import annotations

from app.errors import DomainError


class InvalidPhoneError(DomainError):
    code = "INVALID_PHONE"

    def __init__(self, field: str = "phone"):
        super().__init__("手机号码格式不正确 (invalid mainland mobile number)", field=field)


class InvalidIdNumberError(DomainError):
    code = "INVALID_ID_NUMBER"

    def __init__(self, field: str = "idNumber"):
        super().__init__("居民身份证号码不正确 (invalid identity number)", field=field)


class InvalidCodeError(DomainError):
    code = "INVALID_CODE"

    def __init__(self) -> None:
        super().__init__("验证码错误或已过期 (wrong or expired code)", field="code")


class TooManyAttemptsError(DomainError):
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self) -> None:
        super().__init__("验证码错误次数过多，请重新获取 (code locked)", field="code")


class InvalidTokenError(DomainError):
    code = "INVALID_TOKEN"

    def __init__(self, message: str = "凭证无效或已过期 (invalid or expired token)", *, field: str):
        super().__init__(message, field=field)


class UnknownUserError(DomainError):
    code = "UNKNOWN_USER"

    def __init__(self, field: str = "phone"):
        super().__init__("用户不存在 (no such user)", field=field)


class AccountErasingError(DomainError):
    """The account is being erased (deleteMyAccount): nothing new may be created for it."""

    code = "ACCOUNT_ERASING"

    def __init__(self) -> None:
        super().__init__("账号正在注销，无法办理此业务 (account being erased)")
