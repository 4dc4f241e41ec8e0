"""Process-wide state (built once in the lifespan) and the typed per-request GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import httpx
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from app.audit import AuditLog
from app.db import Document
from app.errors import RateLimitedError, UnauthenticatedError
from app.keyring import Keyring
from app.ratelimit import OperationLimits, Rate, RateLimiter
from app.settings import Settings
from applications.results import WalletSink
from applications.service import ApplicationService
from applications.store import ApplicationStore
from applications.uploads.checks import Limits
from applications.uploads.evidence import MaterialEvidence
from applications.uploads.service import UploadPolicy, UploadService
from applications.uploads.store import UploadStore
from auth.models import User
from auth.oidc import OidcVerifier
from auth.permissions import Viewer, require_viewer
from auth.service import AuthService, SessionCache
from auth.sms import DevSmsSender, HttpSmsSender, SmsSender
from auth.store import AuthStore
from auth.tokens import TokenKeys
from auth.user_store import UserStore
from electronic_cards.keys import SdlKeys
from electronic_cards.service import CardsService
from electronic_cards.store import CardsStore
from matters.runtime import CatalogueRuntime
from matters.service import MatterService
from matters.store import MatterStore
from notifications.events import InboxHub


@dataclass
class AppState:
    """Everything a process shares between requests; built once per process."""

    settings: Settings
    client: AsyncMongoClient[Document]
    keyring: Keyring
    token_keys: TokenKeys
    http: httpx.AsyncClient
    user_rate: RateLimiter
    ip_rate: RateLimiter
    operations: dict[str, str]
    sessions: SessionCache = field(default_factory=SessionCache)
    oidc: OidcVerifier | None = None
    matters: CatalogueRuntime = field(default_factory=CatalogueRuntime)
    inbox_hub: InboxHub = field(default_factory=InboxHub)  # inboxEvents fan-out
    operation_limits: OperationLimits = field(default_factory=OperationLimits)

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.client[self.settings.database_name]

    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    def sms_sender(self, store: AuthStore) -> SmsSender:
        if self.settings.sms_sender == "http" and self.settings.sms_gateway_url:
            return HttpSmsSender(self.http, self.settings.sms_gateway_url)
        return DevSmsSender(store)

    def auth_service(self) -> AuthService:
        store = AuthStore(self.db)
        return AuthService(
            store=store,
            users=UserStore(self.db, self.keyring),
            audit=self.audit(),
            keyring=self.keyring,
            token_keys=self.token_keys,
            sms=self.sms_sender(store),
            oidc=self.oidc,
            sessions=self.sessions,
            refresh_ttl=timedelta(days=self.settings.refresh_token_ttl_days),
        )

    @cached_property
    def sdl_keys(self) -> SdlKeys:
        """The 亮证 QR signing keys, shared by every request of the process."""
        return SdlKeys(self.keyring.sdl_key_wrap, self.keyring.all("sdl_key_wrap")[1:])

    @cached_property
    def upload_rate(self) -> RateLimiter:
        """Uploads per user (decoding costs CPU, so failed attempts count too)."""
        return RateLimiter(
            Rate.parse(self.settings.upload_rate), enabled=self.settings.rate_limits == "on"
        )

    def upload_service(self) -> UploadService:
        s = self.settings
        policy = UploadPolicy(
            max_bytes=s.max_upload_bytes,
            limits=Limits(max_pixels=s.upload_max_pixels, max_edge=s.upload_max_edge),
            quota_bytes=s.upload_quota_bytes,
            quota_files=s.upload_quota_files,
            orphan_retention=timedelta(days=s.upload_orphan_days),
            db_timeout=s.db_request_timeout_seconds,
        )
        return UploadService(UploadStore(self.db), policy, self.upload_rate)

    def cards_service(self) -> CardsService:
        return CardsService(
            CardsStore(self.db), self.sdl_keys, self.keyring.licence_data, self.auth_service()
        )


class Loaders:
    """Per-request DataLoaders: each reference a resolver follows is one batched query."""

    def __init__(self, state: AppState) -> None:
        self._state = state

    @cached_property
    def users(self) -> DataLoader[ObjectId, User | None]:
        store = UserStore(self._state.db, self._state.keyring)

        async def load(ids: list[ObjectId]) -> list[User | None]:
            found = await store.get_users(ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)


class Context(BaseContext):
    """What every resolver gets as `info.context`."""

    def __init__(
        self,
        state: AppState,
        *,
        viewer: Viewer | None = None,
        auth_error: UnauthenticatedError | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.viewer = viewer
        self.auth_error = auth_error
        self.request_id = request_id
        self.loaders = Loaders(state)

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def require_viewer(self) -> Viewer:
        return require_viewer(self.viewer, self.auth_error)

    def take_budget(self, operation: str) -> None:
        """Spend one of this caller's runs of an expensive operation (app/ratelimit.py);
        `RateLimitedError` (RATE_LIMITED, with retry_after) when none is left."""
        if self.settings.rate_limits == "off":
            return
        if self.viewer is not None:
            key = f"user:{self.viewer.user_id}"
        else:
            client = getattr(getattr(self, "request", None), "client", None)
            key = f"ip:{client.host if client else 'unknown'}"
        wait = self.state.operation_limits.hit(operation, key)
        if wait > 0:
            raise RateLimitedError(
                "操作过于频繁，请稍后再试 (rate limited)", retry_after=int(wait) + 1
            )

    @cached_property
    def auth(self) -> AuthService:
        return self.state.auth_service()

    @cached_property
    def matters(self) -> MatterService:
        return MatterService(MatterStore(self.state.db), self.state.matters)

    @cached_property
    def cards(self) -> CardsService:
        return self.state.cards_service()

    @cached_property
    def applications(self) -> ApplicationService:
        store = ApplicationStore(self.state.db)
        return ApplicationService(
            store,
            self.matters,
            self.auth,
            WalletSink(self.cards, store.record_delivery),
            evidence=MaterialEvidence(UploadStore(self.state.db), self.cards),
        )

    @cached_property
    def uploads(self) -> UploadService:
        return self.state.upload_service()
