"""Sign-in rules: SMS codes, unified identity, sessions with rotating refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bson import ObjectId

from app import sealing
from app.audit import AuditEvent, AuditLog
from app.errors import RateLimitedError, UnauthenticatedError
from app.keyring import Keyring
from app.masking import mask_phone
from auth import identity_numbers
from auth.errors import (
    AccountErasingError,
    InvalidCodeError,
    InvalidTokenError,
    TooManyAttemptsError,
    UnknownUserError,
)
from auth.models import AssuranceLevel, Organization, Role, User
from auth.oidc import OidcVerifier
from auth.permissions import Viewer
from auth.sms import SmsSender
from auth.store import AuthStore, LoginCode
from auth.tokens import TokenKeys
from auth.user_store import UserStore, phone_key

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=5)
CODE_INTERVAL = timedelta(seconds=60)
CODES_PER_DAY = 10
MAX_CODE_ATTEMPTS = 5
_CHINA = ZoneInfo("Asia/Shanghai")
SESSION_CHECK_TTL = 5.0  # seconds a process trusts its last look at a session


@dataclass(frozen=True, slots=True)
class UserSpec:
    phone: str
    roles: tuple[Role, ...]
    assurance_level: AssuranceLevel
    name: str | None = None
    id_number: str | None = None
    region_code: str | None = None
    organization: Organization | None = None
    scenes: tuple[str, ...] = ()
    department_code: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SealedIdNumber:
    """An identity number as stored: AES-GCM ciphertext plus the HMAC blind index."""

    id_number_cipher: bytes
    id_number_index: str


@dataclass(frozen=True, slots=True)
class SessionTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


class SessionCache:
    """Per-process memory of live sessions, so a request does not always read the database.

    A revoked session is therefore honoured by other processes within `SESSION_CHECK_TTL`.
    """

    def __init__(self) -> None:
        self._live: dict[str, tuple[ObjectId, float]] = {}

    def is_fresh(self, session_id: str, user_id: ObjectId | None = None) -> bool:
        """Known live recently (and, given `user_id`, held by that person)."""
        entry = self._live.get(session_id)
        if entry is None or (user_id is not None and entry[0] != user_id):
            return False
        return time.monotonic() - entry[1] < SESSION_CHECK_TTL

    def remember(self, session_id: str, user_id: ObjectId) -> None:
        if len(self._live) > 100_000:
            self._live.clear()
        self._live[session_id] = (user_id, time.monotonic())

    def forget(self, session_id: str) -> None:
        self._live.pop(session_id, None)

    def forget_user(self, user_id: ObjectId) -> None:
        for session_id in [s for s, (u, _) in self._live.items() if u == user_id]:
            del self._live[session_id]


class AuthService:
    def __init__(
        self,
        store: AuthStore,
        users: UserStore,
        audit: AuditLog,
        keyring: Keyring,
        token_keys: TokenKeys,
        sms: SmsSender,
        oidc: OidcVerifier | None,
        sessions: SessionCache,
        refresh_ttl: timedelta,
    ) -> None:
        self.store = store
        self.users = users
        self.audit = audit
        self.keyring = keyring
        self.token_keys = token_keys
        self.sms = sms
        self.oidc = oidc
        self.sessions = sessions
        self.refresh_ttl = refresh_ttl

    # -- SMS one-time codes --------------------------------------------------------------

    def _code_hash(self, phone: str, code: str) -> str:
        return hmac.new(self.keyring.otp_hash, f"{phone}:{code}".encode(), "sha256").hexdigest()

    async def request_login_code(self, phone: str) -> int:
        """Send a fresh 6-digit code; returns seconds until another may be requested."""
        phone = identity_numbers.normalize_phone(phone)
        now = datetime.now(UTC)
        day = now.astimezone(_CHINA).date().isoformat()
        key = phone_key(self.keyring, phone)
        if not await self.store.take_login_code_quota(
            key, day, now, per_day=CODES_PER_DAY, interval=CODE_INTERVAL
        ):
            raise RateLimitedError(
                "验证码发送过于频繁，请稍后再试 (one code per minute, ten per day)",
                retry_after=int(CODE_INTERVAL.total_seconds()),
                field="phone",
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        await self.store.replace_login_code(
            LoginCode(key, self._code_hash(phone, code), now + CODE_TTL, 0)
        )
        await self.sms.send(phone, f"【爱山东】您的登录验证码为{code}，5分钟内有效。请勿泄露。")
        return int(CODE_INTERVAL.total_seconds())

    async def login_with_code(self, phone: str, code: str) -> SessionTokens:
        phone = identity_numbers.normalize_phone(phone)
        await self.take_code(phone, code)
        now = datetime.now(UTC)
        user = await self.users.find_by_phone(phone)
        if user is None:
            user = User.new_citizen(phone, AssuranceLevel.L1, now)
            await self.users.insert_user(user)
            log.info("user registered by sms", extra={"phone": mask_phone(phone)})
        else:
            await self.require_active(user.id)  # no new session while the account is erased
        return await self._open_session(user, method="sms")

    async def take_code(self, phone: str, code: str) -> None:
        """Check and use up the live SMS code of a normalised phone (sign-in, re-confirmation)."""
        if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
            raise InvalidCodeError()
        key = phone_key(self.keyring, phone)
        live = await self.store.get_login_code(key)
        now = datetime.now(UTC)
        # The TTL monitor runs about once a minute, so expiry is also checked here.
        if live is None or live.expires_at <= now:
            raise InvalidCodeError()
        if live.attempts >= MAX_CODE_ATTEMPTS:
            raise TooManyAttemptsError()
        given = self._code_hash(phone, code)
        if not hmac.compare_digest(given, live.code_hash):
            attempts = await self.store.count_failed_attempt(key, live.code_hash)
            if attempts is not None and attempts >= MAX_CODE_ATTEMPTS:
                raise TooManyAttemptsError()
            raise InvalidCodeError()
        if not await self.store.consume_login_code(key, given, MAX_CODE_ATTEMPTS):
            raise InvalidCodeError()  # used by a concurrent request, or locked meanwhile

    # -- unified identity (OIDC) ---------------------------------------------------------

    async def exchange_identity_token(self, id_token: str) -> SessionTokens:
        if self.oidc is None:
            raise InvalidTokenError(
                "未配置统一身份认证 (no identity issuer configured)", field="idToken"
            )
        identity = await self.oidc.verify(id_token)
        number = identity_numbers.normalize_id_number(identity.id_number, field="idToken")
        sealed = self._seal_id_number(number)
        index = sealed.id_number_index
        identity_fields: dict[str, object] = {
            "name": identity.name,
            "id_number_cipher": sealed.id_number_cipher,
            "id_number_index": index,
            "birth_date": identity_numbers.birth_date_of(number).isoformat(),
        }
        indexes = sealing.blind_indexes(self.keyring.all("identity_index"), number)
        user = await self.users.find_by_id_number_index(indexes)
        if user is None and identity.phone:
            phone = identity_numbers.normalize_phone(identity.phone, field="idToken")
            user = await self.users.find_by_phone(phone)
            if user is not None and user.id_number_index not in (None, *indexes):
                raise InvalidTokenError(
                    "该手机号已绑定其他身份 (phone bound to another person)", field="idToken"
                )
            if user is None:
                user = User.new_citizen(phone, identity.assurance_level, datetime.now(UTC))
                await self.users.insert_user(user)
        if user is None:
            raise InvalidTokenError(
                "身份令牌缺少手机号，无法开户 (no phone to register)", field="idToken"
            )
        await self.require_active(user.id)
        # Linking never lowers what we already know about the person.
        level = max(user.assurance_level, identity.assurance_level, key=lambda a: a.rank)
        identity_fields["assurance_level"] = level.value
        updated = await self.users.update_identity(user.id, identity_fields)
        if updated is None:  # deleted between the read and the write
            raise InvalidTokenError("账号状态已变化，请重试 (account changed)", field="idToken")
        return await self._open_session(updated, method="oidc")

    # -- sessions ------------------------------------------------------------------------

    def _refresh_hash(self, token: str) -> str:
        return hmac.new(self.keyring.token_hash, token.encode(), hashlib.sha256).hexdigest()

    async def _open_session(self, user: User, *, method: str) -> SessionTokens:
        now = datetime.now(UTC)
        family_id = secrets.token_hex(16)
        refresh = secrets.token_urlsafe(32)
        await self.store.create_session(
            family_id, user.id, self._refresh_hash(refresh), now, now + self.refresh_ttl, method
        )
        access, expires_in = await self.token_keys.issue(self.store, user, family_id)
        self.sessions.remember(family_id, user.id)
        if set(user.roles) - {Role.CITIZEN} or method == "cli":
            # Staff sign-ins and tokens minted by operators' tools are privileged access.
            await self.audit.record(
                AuditEvent(
                    "auth.sign_in",
                    user.id,
                    tuple(r.value for r in user.roles),
                    target=family_id,
                    details={"method": method},
                )
            )
        return SessionTokens(access, refresh, expires_in, user)

    async def refresh_session(self, refresh_token: str) -> SessionTokens:
        if not isinstance(refresh_token, str) or not 20 <= len(refresh_token) <= 100:
            raise InvalidTokenError(field="refreshToken")
        old_hash = self._refresh_hash(refresh_token)
        stored = await self.store.get_refresh_token(old_hash)
        for key in self.keyring.all("token_hash")[1:]:  # issued before a master-secret rotation
            if stored is not None:
                break
            old_hash = hmac.new(key, refresh_token.encode(), hashlib.sha256).hexdigest()
            stored = await self.store.get_refresh_token(old_hash)
        now = datetime.now(UTC)
        if stored is None or stored["expires_at"] <= now:
            raise InvalidTokenError(field="refreshToken")
        family_id = stored["family_id"]
        session = await self.store.get_session(family_id)
        if session is None or session.get("revoked_at") is not None:
            raise InvalidTokenError("会话已失效，请重新登录 (session ended)", field="refreshToken")
        new_token = secrets.token_urlsafe(32)
        rotated = stored["used_at"] is None and await self.store.rotate_refresh_token(
            old_hash,
            self._refresh_hash(new_token),
            family_id,
            stored["user_id"],
            now,
            now + self.refresh_ttl,
        )
        if not rotated:
            # A used refresh token came back: whoever holds the family may have stolen it.
            await self.store.revoke_session(family_id, now, "refresh-token-reuse")
            self.sessions.forget(family_id)
            await self.audit.record(
                AuditEvent("auth.session.reuse_detected", stored["user_id"], target=family_id)
            )
            log.warning("refresh token reuse; session family revoked", extra={"session": family_id})
            raise InvalidTokenError(
                "会话已失效，请重新登录 (refresh token reused)", field="refreshToken"
            )
        user = await self.users.get_user(stored["user_id"])
        if user is None:
            raise InvalidTokenError(field="refreshToken")
        access, expires_in = await self.token_keys.issue(self.store, user, family_id)
        return SessionTokens(access, new_token, expires_in, user)

    async def logout(self, viewer: Viewer, *, all_devices: bool = False) -> None:
        now = datetime.now(UTC)
        if all_devices:
            ended = await self.store.revoke_user_sessions(viewer.user_id, now, "logout-all")
            self.sessions.forget_user(viewer.user_id)
            await self.audit.record(
                AuditEvent("auth.logout_all", viewer.user_id, details={"sessions": ended})
            )
        else:
            await self.store.revoke_session(viewer.session_id, now, "logout")
            self.sessions.forget(viewer.session_id)

    async def authenticate(self, access_token: str) -> Viewer:
        claims = await self.token_keys.verify(self.store, access_token)
        if not ObjectId.is_valid(claims.user_id):
            raise UnauthenticatedError("访问令牌无效 (invalid access token)")
        user_id = ObjectId(claims.user_id)
        if not self.sessions.is_fresh(claims.session_id, user_id):
            session = await self.store.get_session(claims.session_id)
            # The session must be live and belong to the token's subject (defence in depth:
            # only a holder of the signing key could pair them wrongly).
            if (
                session is None
                or session.get("revoked_at") is not None
                or session.get("user_id") != user_id
            ):
                raise UnauthenticatedError("会话已失效，请重新登录 (session ended)")
            self.sessions.remember(claims.session_id, user_id)
        return Viewer(
            user_id=user_id,
            session_id=claims.session_id,
            roles=claims.roles,
            assurance_level=claims.assurance_level,
            organization_code=claims.organization_code,
            scenes=claims.scenes,
            department_code=claims.department_code,
        )

    async def require_active(self, user_id: ObjectId) -> None:
        """`AccountErasingError` unless the account exists and is not being erased.

        Read from the database on every call: a session cached by another process (up to
        `SESSION_CHECK_TTL`) must not let a write for an erased person through."""
        if not await self.users.is_active(user_id):
            raise AccountErasingError()

    async def open_session_for_phone(self, phone: str, *, method: str) -> SessionTokens:
        """A session for an existing user without a code: operators' `zsb token` only."""
        user = await self.users.find_by_phone(identity_numbers.normalize_phone(phone))
        if user is None:
            raise UnknownUserError()
        return await self._open_session(user, method=method)

    # -- accounts --------------------------------------------------------------------------

    async def ensure_user(self, spec: UserSpec) -> User:
        """Create or update the account with this phone (idempotent; demo data and admin tools)."""
        phone = identity_numbers.normalize_phone(spec.phone)
        user = User(
            id=ObjectId(),
            phone=phone,
            roles=spec.roles,
            assurance_level=spec.assurance_level,
            created_at=datetime.now(UTC),
            name=spec.name,
            region_code=spec.region_code,
            organization=spec.organization,
            scenes=spec.scenes,
            department_code=spec.department_code,
            tags=spec.tags,
        )
        if spec.id_number:
            number = identity_numbers.normalize_id_number(spec.id_number)
            sealed = self._seal_id_number(number)
            user = replace(
                user,
                id_number_cipher=sealed.id_number_cipher,
                id_number_index=sealed.id_number_index,
                birth_date=identity_numbers.birth_date_of(number),
            )
        return await self.users.upsert_user_by_phone(user)

    def _seal_id_number(self, number: str) -> SealedIdNumber:
        return SealedIdNumber(
            identity_numbers.encrypt(self.keyring.identity_encryption, number),
            identity_numbers.blind_index(self.keyring.identity_index, number),
        )

    # -- reads ---------------------------------------------------------------------------

    async def get_user(self, user_id: ObjectId) -> User | None:
        return await self.users.get_user(user_id)

    async def find_user_by_phone(self, phone: str, *, field: str = "phone") -> User | None:
        """The account with this mobile number (e.g. a person named as a licence delegate)."""
        return await self.users.find_by_phone(identity_numbers.normalize_phone(phone, field=field))

    def reveal_id_number(self, user: User) -> str | None:
        """The plain number, for masking or for a service that needs it; never log it."""
        if user.id_number_cipher is None:
            return None
        keys = self.keyring.all("identity_encryption")  # during a rotation: either generation
        return sealing.decrypt_any(keys, user.id_number_cipher, identity_numbers.PURPOSE)
