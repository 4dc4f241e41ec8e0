"""Process-wide state (built once in the lifespan) and the typed per-request GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import httpx
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from app.db import Document
from app.errors import UnauthenticatedError
from app.keyring import Keyring
from app.ratelimit import RateLimiter
from app.settings import Settings
from applications.results import RecordingSink
from applications.service import ApplicationService
from applications.store import ApplicationStore
from auth.models import User
from auth.oidc import OidcVerifier
from auth.permissions import Viewer, require_viewer
from auth.service import AuthService, SessionCache
from auth.sms import DevSmsSender, HttpSmsSender, SmsSender
from auth.store import AuthStore
from auth.tokens import TokenKeys
from matters.runtime import CatalogueRuntime
from matters.service import MatterService
from matters.store import MatterStore


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

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.client[self.settings.database_name]

    def sms_sender(self, store: AuthStore) -> SmsSender:
        if self.settings.sms_sender == "http" and self.settings.sms_gateway_url:
            return HttpSmsSender(self.http, self.settings.sms_gateway_url)
        return DevSmsSender(store)

    def auth_service(self) -> AuthService:
        store = AuthStore(self.db)
        return AuthService(
            store=store,
            keyring=self.keyring,
            token_keys=self.token_keys,
            sms=self.sms_sender(store),
            oidc=self.oidc,
            sessions=self.sessions,
            refresh_ttl=timedelta(days=self.settings.refresh_token_ttl_days),
        )


class Loaders:
    """Per-request DataLoaders: each reference a resolver follows is one batched query."""

    def __init__(self, state: AppState) -> None:
        self._state = state

    @cached_property
    def users(self) -> DataLoader[ObjectId, User | None]:
        store = AuthStore(self._state.db)

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

    @cached_property
    def auth(self) -> AuthService:
        return self.state.auth_service()

    @cached_property
    def matters(self) -> MatterService:
        return MatterService(MatterStore(self.state.db), self.state.matters)

    @cached_property
    def applications(self) -> ApplicationService:
        store = ApplicationStore(self.state.db)
        return ApplicationService(
            store, self.matters, self.auth, RecordingSink(store.record_delivery)
        )

    def extra(self) -> dict[str, Any]:
        return {"request_id": self.request_id}
