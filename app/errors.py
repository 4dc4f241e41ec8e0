"""The error vocabulary every domain shares, and which errors clients may read verbatim.

Services raise `DomainError`s; the GraphQL layer turns them into `userErrors` (expected failures
of a mutation) or top-level errors with `extensions.code` (`AccessError`: who you are or what you
may do). Anything else is a bug: logged with the request id and masked for the client.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from strawberry.extensions import MaskErrors


class DomainError(Exception):
    """An expected failure with a stable `code`, a user-safe `message` and the input `field`."""

    code = "INVALID_INPUT"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    @property
    def errors(self) -> list[DomainError]:
        return [self]

    @property
    def extensions(self) -> dict[str, str]:
        """graphql-core copies this onto the error a query resolver's failure becomes."""
        return {"code": self.code, **({"field": self.field} if self.field else {})}


class InputErrors(DomainError):
    """Several field errors at once (form validation reports every failing field)."""

    def __init__(self, errors: Iterable[DomainError]):
        self._errors = list(errors)
        first = self._errors[0]
        super().__init__(first.message, code=first.code, field=first.field)

    @property
    def errors(self) -> list[DomainError]:
        return self._errors


class NotFoundError(DomainError):
    code = "NOT_FOUND"


class AlreadyExistsError(DomainError):
    code = "ALREADY_EXISTS"


class InvalidIdError(DomainError):
    code = "INVALID_ID"


class RateLimitedError(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None):
        super().__init__(message, field=field)
        self.retry_after = retry_after


class AccessError(DomainError):
    """Reported as a top-level GraphQL error; graphql-core copies `extensions` onto it."""

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code}


class UnauthenticatedError(AccessError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "请先登录 (sign-in required)"):
        super().__init__(message)


class ForbiddenError(AccessError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "无权访问 (not allowed)"):
        super().__init__(message)


class RequestLimitError(AccessError):
    """A whole request refused before execution (rate or size); also a top-level error."""

    code = "RATE_LIMITED"


class UnavailableError(AccessError):
    """The database (or another part we depend on) is briefly out of reach: try again.

    A top-level error with `extensions: {code: UNAVAILABLE, retryable: true}`; a mutation that
    took an idempotency key may be sent again with the same key and completes exactly once.
    """

    code = "UNAVAILABLE"

    def __init__(self, message: str = "服务暂时不可用，请稍后重试 (unavailable, retry)"):
        super().__init__(message)

    @property
    def extensions(self) -> dict[str, str | bool]:  # type: ignore[override]
        return {"code": self.code, "retryable": True}


# Server answers that mean "not now" rather than "never": shutting down, stepped down, not
# primary, interrupted, timed out (mongod's codes; pymongo maps most to NotPrimaryError).
_TRANSIENT_CODES = frozenset(
    {6, 7, 50, 89, 91, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436}
)


def is_transient(exc: BaseException | None) -> bool:
    """True for a database failure that a later retry may not meet (connection lost, no server
    selected, not primary, shutting down, timed out), looking through `raise … from` chains."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConnectionFailure):  # AutoReconnect, NotPrimary, timeouts, selection
            return True
        if isinstance(exc, PyMongoError) and (
            exc.has_error_label("RetryableWriteError")
            or exc.has_error_label("TransientTransactionError")
            or exc.timeout
        ):
            return True
        if isinstance(exc, OperationFailure) and exc.code in _TRANSIENT_CODES:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def keeps_message(error: GraphQLError) -> bool:
    """MaskErrors predicate, inverted: True when the client may read the error as it is.

    Validation and parse errors (no original error) and our own domain errors (access errors,
    and the expected failures a query raises: a malformed cursor or id, not found, rate limited;
    their messages are user-safe by construction) are meant for the client; everything else is
    an internal failure and is masked.
    """
    original = error.original_error
    return original is None or isinstance(original, (DomainError, GraphQLError))


def should_mask(error: GraphQLError) -> bool:
    return not keeps_message(error)


class MaskUnexpectedErrors(MaskErrors):
    """Masks internal failures; a transient database failure becomes UNAVAILABLE (retryable)
    instead of the opaque "Unexpected error.", so clients know to try again."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if not is_transient(error.original_error):
            return super().anonymise_error(error)
        unavailable = UnavailableError()
        return GraphQLError(
            message=unavailable.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=unavailable.extensions,
        )
