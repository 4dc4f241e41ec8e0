"""The one settings class: every knob the service reads, from `ZSB_*` environment variables."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ISSUER_PATH = "/dev/oidc"


class Environment(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class ProductionMisconfigured(RuntimeError):
    """Raised at start-up when production is asked to run with a dev-only convenience."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZSB_", extra="ignore")

    env: Environment = Environment.DEV
    mongodb_uri: str | None = Field(
        default=None, description="unset: start the embedded SecantusDB server"
    )
    database_name: str = "zsb"
    data_dir: Path = Path("var")

    # Secrets. `secret_key` is the master key; purpose keys are derived from it (app.keyring).
    # In dev a random one is generated once and kept under data_dir; production must set it.
    secret_key: SecretStr | None = None
    # Master secrets whose sealed data is still read (never written) during a rotation: the
    # previous one until `zsb keys reseal` has moved everything (docs/operations.md).
    read_secret_keys: list[SecretStr] = Field(default_factory=list)

    demo_data: bool | None = Field(
        default=None, description="seed demo data on start; defaults to on in dev, off otherwise"
    )
    sms_sender: Literal["dev", "http"] = "dev"
    sms_gateway_url: str | None = None

    # Sign-in through the provincial unified identity service (OIDC).
    oidc_issuer: str | None = None
    oidc_audience: str = "zsb-app"
    oidc_id_number_claim: str = "id_card_number"
    dev_issuer: bool | None = Field(
        default=None, description="mount a stand-in OIDC issuer at /dev/oidc (dev only)"
    )
    public_base_url: str = "http://127.0.0.1:8000"

    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_days: int = 30
    token_issuer: str = "zsb"  # noqa: S105 - a JWT `iss` value, not a secret
    token_audience: str = "zsb-api"  # noqa: S105 - a JWT `aud` value

    # Limits. Request-rate limits are `"<count>/<seconds>"`; ZSB_RATE_LIMITS=off lifts them for
    # load tests (never the sign-in limits, which live in the auth service).
    rate_limits: Literal["on", "off"] = "on"
    rate_limit_per_user: str = "600/60"
    rate_limit_per_ip: str = "1200/60"
    max_request_bytes: int = 1_000_000
    # Every HTTP request's database work (retries, server selection, transaction retries
    # included) must finish within this, so an outage answers UNAVAILABLE instead of hanging.
    db_request_timeout_seconds: float = 10.0
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to call the API (JSON list)"
    )
    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_tokens: int = 3_000
    # Material uploads (applications.uploads): per-file size, decoded-pixel ceiling (bombs),
    # longer edge kept (larger images are downscaled), per-user rate and quota, and how long an
    # upload no application uses is kept. Multipart requests may be this much larger than
    # max_request_bytes allows other requests.
    max_upload_bytes: int = 20 * 1024 * 1024
    upload_max_pixels: int = 50_000_000
    upload_max_edge: int = 4096
    upload_rate: str = "30/600"
    upload_quota_bytes: int = 500 * 1024 * 1024
    upload_quota_files: int = 500
    upload_orphan_days: int = 7

    # Audience sizes below this are shown to operators as a band ("<10"), never exactly: an exact
    # count of a one-number list (or a narrow filter) would say whether that person is
    # registered and has those attributes (notifications/campaigns.py).
    campaign_min_reported: int = Field(default=10, ge=1)

    fcm_credentials: Path | None = None
    fcm_endpoint: str | None = None
    quiet_hours: str = "22:00-08:00"
    # WeChat mini-program subscribe messages: app credentials, API base (tests, gateways) and
    # one subscribe-message template id per category, e.g. {"APPLICATION_STATUS": "tmpl…"}.
    wechat_appid: str | None = None
    wechat_secret: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_templates: dict[str, str] = Field(default_factory=dict)

    log_level: str = "INFO"
    operations_dir: Path | None = Field(
        default=None, description="persisted operations; default: graphql/operations of the repo"
    )

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def demo_data_enabled(self) -> bool:
        return (not self.is_production) if self.demo_data is None else self.demo_data

    @property
    def dev_issuer_enabled(self) -> bool:
        return (not self.is_production) if self.dev_issuer is None else self.dev_issuer

    @property
    def effective_oidc_issuer(self) -> str | None:
        if self.oidc_issuer:
            return self.oidc_issuer.rstrip("/")
        if self.dev_issuer_enabled:
            return self.public_base_url.rstrip("/") + DEV_ISSUER_PATH
        return None

    @cached_property
    def secret_key_file(self) -> Path:
        return self.data_dir / "dev-secret.key"

    def production_problems(self) -> list[str]:
        """What stops this configuration from running in production (empty when fine)."""
        if not self.is_production:
            return []
        problems = []
        if self.demo_data_enabled:
            problems.append("ZSB_DEMO_DATA must be off in production")
        if self.sms_sender == "dev":
            problems.append("ZSB_SMS_SENDER=dev records codes instead of sending them")
        if self.sms_sender == "http" and not self.sms_gateway_url:
            problems.append("ZSB_SMS_GATEWAY_URL is required with ZSB_SMS_SENDER=http")
        if self.dev_issuer_enabled:
            problems.append("ZSB_DEV_ISSUER mints identity tokens for anyone")
        if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
            problems.append("ZSB_SECRET_KEY (at least 32 characters) is required")
        if any(len(k.get_secret_value()) < 32 for k in self.read_secret_keys):
            problems.append("ZSB_READ_SECRET_KEYS entries must have at least 32 characters")
        if not self.mongodb_uri:
            problems.append("ZSB_MONGODB_URI is required (no embedded database in production)")
        if self.rate_limits == "off":
            problems.append("ZSB_RATE_LIMITS=off is for load tests only")
        return problems

    def check_production(self) -> None:
        problems = self.production_problems()
        if problems:
            raise ProductionMisconfigured("; ".join(problems))
