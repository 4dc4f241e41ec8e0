"""GraphQL types, queries and mutations of sign-in and identity: thin calls into the service."""

from __future__ import annotations

from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.api_types import UserError, run_mutation
from app.context import Context
from app.errors import UnauthenticatedError
from app.ids import to_global_id
from app.masking import mask_name, mask_number, mask_phone
from auth import models
from auth.service import SessionTokens

strawberry.enum(
    models.Role,
    description="What a user may do: CITIZEN, VERIFIER (checks licences), CLERK (processes "
    "applications), OPERATOR (sends pushes, edits the catalogue), ADMIN.",
)
strawberry.enum(
    models.AssuranceLevel,
    description="How sure we are who the user is: L1 phone, L2 real-name verified, "
    "L3 face verified.",
)


@strawberry.type(description="An organisation a verifier works for.")
class Organization:
    code: str = strawberry.field(description="Unified social credit code or internal code.")
    name: str = strawberry.field(description="The organisation's name.")


@strawberry.type(description="A signed-in person's own account; personal data is masked.")
class User:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    roles: list[models.Role] = strawberry.field(description="The roles this account holds.")
    assurance_level: models.AssuranceLevel = strawberry.field(
        description="Identity assurance level."
    )
    phone: str = strawberry.field(description="Mobile number, masked (138****0001).")
    name: str | None = strawberry.field(description="Real name, masked (张*明); null if unknown.")
    id_number: str | None = strawberry.field(
        description="居民身份证 number, masked (3702**********1234); "
        "null if not real-name verified."
    )
    organization: Organization | None = strawberry.field(description="A verifier's organisation.")
    scenes: list[str] = strawberry.field(description="Check scenes a verifier may run.")
    department_code: str | None = strawberry.field(description="A clerk's department code.")

    @classmethod
    def of(cls, user: models.User, id_number: str | None) -> User:
        org = user.organization
        return cls(
            id=strawberry.ID(to_global_id("User", user.id)),
            roles=list(user.roles),
            assurance_level=user.assurance_level,
            phone=mask_phone(user.phone),
            name=mask_name(user.name) if user.name else None,
            id_number=mask_number(id_number) if id_number else None,
            organization=Organization(code=org.code, name=org.name) if org else None,
            scenes=list(user.scenes),
            department_code=user.department_code,
        )


def _user_view(info: Info[Context, None], user: models.User) -> User:
    return User.of(user, info.context.auth.reveal_id_number(user))


# -- inputs and payloads -----------------------------------------------------------------


@strawberry.input(description="Ask for a 6-digit sign-in code by SMS.")
class RequestLoginCodeInput:
    phone: str = strawberry.field(description="Mainland mobile number, e.g. 13800000001.")


@strawberry.type(description="Result of requestLoginCode.")
class RequestLoginCodePayload:
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="Seconds before another code may be requested."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="INVALID_PHONE or RATE_LIMITED."
    )


@strawberry.input(description="Sign in with the phone and the code received by SMS.")
class LoginWithCodeInput:
    phone: str = strawberry.field(description="The phone the code was sent to.")
    code: str = strawberry.field(description="The 6-digit code.")


@strawberry.input(description="Sign in with an ID token of the provincial identity service.")
class ExchangeIdentityTokenInput:
    id_token: str = strawberry.field(description="The OIDC ID token (a signed JWT).")


@strawberry.input(description="Exchange a refresh token for a new pair of tokens.")
class RefreshSessionInput:
    refresh_token: str = strawberry.field(description="The latest refresh token of the session.")


@strawberry.input(description="End the current session.")
class LogoutInput:
    all_devices: bool = strawberry.field(
        default=False, description="End every session of this account, on every device."
    )


@strawberry.type(description="Tokens of a new or refreshed session.")
class SessionPayload:
    access_token: str | None = strawberry.field(
        default=None, description="Bearer token for the Authorization header (ES256 JWT)."
    )
    refresh_token: str | None = strawberry.field(
        default=None, description="Opaque; single use: each refresh returns a new one."
    )
    expires_in: int | None = strawberry.field(
        default=None, description="Seconds until the access token expires."
    )
    user: User | None = strawberry.field(default=None, description="The signed-in account.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why sign-in failed, if it did."
    )


@strawberry.type(description="Result of loginWithCode.")
class LoginWithCodePayload(SessionPayload):
    pass


@strawberry.type(description="Result of exchangeIdentityToken.")
class ExchangeIdentityTokenPayload(SessionPayload):
    pass


@strawberry.type(description="Result of refreshSession.")
class RefreshSessionPayload(SessionPayload):
    pass


@strawberry.type(description="Result of logout.")
class LogoutPayload:
    ok: bool = strawberry.field(default=False, description="True when the session was ended.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Always empty; kept for the payload convention."
    )


P = TypeVar("P", bound=SessionPayload)


def _session_payload(info: Info[Context, None], cls: type[P], tokens: SessionTokens) -> P:
    return cls(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=_user_view(info, tokens.user),
    )


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in account (masked). Requires sign-in.")
    async def me(self, info: Info[Context, None]) -> User:
        viewer = info.context.require_viewer()
        user = await info.context.loaders.users.load(viewer.user_id)
        if user is None:
            raise UnauthenticatedError("账号不存在 (account no longer exists)")
        return _user_view(info, user)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Send a 6-digit sign-in code by SMS (1 a minute, 10 a day).")
    async def request_login_code(
        self, info: Info[Context, None], input: RequestLoginCodeInput
    ) -> RequestLoginCodePayload:
        async def act() -> RequestLoginCodePayload:
            wait = await info.context.auth.request_login_code(input.phone)
            return RequestLoginCodePayload(retry_after_seconds=wait)

        return await run_mutation(RequestLoginCodePayload, act)

    @strawberry.mutation(description="Sign in (or register) with an SMS code.")
    async def login_with_code(
        self, info: Info[Context, None], input: LoginWithCodeInput
    ) -> LoginWithCodePayload:
        async def act() -> LoginWithCodePayload:
            tokens = await info.context.auth.login_with_code(input.phone, input.code)
            return _session_payload(info, LoginWithCodePayload, tokens)

        return await run_mutation(LoginWithCodePayload, act)

    @strawberry.mutation(description="Sign in through the provincial unified identity service.")
    async def exchange_identity_token(
        self, info: Info[Context, None], input: ExchangeIdentityTokenInput
    ) -> ExchangeIdentityTokenPayload:
        async def act() -> ExchangeIdentityTokenPayload:
            tokens = await info.context.auth.exchange_identity_token(input.id_token)
            return _session_payload(info, ExchangeIdentityTokenPayload, tokens)

        return await run_mutation(ExchangeIdentityTokenPayload, act)

    @strawberry.mutation(
        description="Rotate the refresh token; reusing an old one ends the whole session."
    )
    async def refresh_session(
        self, info: Info[Context, None], input: RefreshSessionInput
    ) -> RefreshSessionPayload:
        async def act() -> RefreshSessionPayload:
            tokens = await info.context.auth.refresh_session(input.refresh_token)
            return _session_payload(info, RefreshSessionPayload, tokens)

        return await run_mutation(RefreshSessionPayload, act)

    @strawberry.mutation(description="End this session (or all sessions). Requires sign-in.")
    async def logout(self, info: Info[Context, None], input: LogoutInput) -> LogoutPayload:
        viewer = info.context.require_viewer()

        async def act() -> LogoutPayload:
            await info.context.auth.logout(viewer, all_devices=input.all_devices)
            return LogoutPayload(ok=True)

        return await run_mutation(LogoutPayload, act)
