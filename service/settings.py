"""Settings from RECOOP_* environment variables (and an optional .env file)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from routes_planner import PlannerParams

# A list setting: `a,b` or a JSON array `["a", "b"]` in the environment.
StrList = Annotated[tuple[str, ...], NoDecode]


class ConfigError(ValueError):
    """The configuration cannot work; the message says which variable to fix."""


class Settings(BaseSettings):
    """Every knob of the service; frozen, and its repr never shows a secret."""

    model_config = SettingsConfigDict(
        env_prefix="RECOOP_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./recoop.db"
    public_base_url: str = "http://127.0.0.1:8080"
    # Proxies whose X-Forwarded-Proto/Host we believe; empty means believe none.
    trusted_proxies: StrList = ()
    timezone: str = "Africa/Lagos"
    currency: str = "NGN"
    default_region: str = "NG"

    sms_gateway: Literal["console", "twilio", "africastalking"] = "console"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    africastalking_username: str = ""
    africastalking_api_key: SecretStr = SecretStr("")
    africastalking_sender_id: str = ""
    # Africa's Talking does not sign callbacks: its webhook URL carries this secret.
    africastalking_webhook_token: SecretStr = SecretStr("")

    payout_provider: str = "sandbox"  # mobile money
    airtime_provider: str = "sandbox"
    # Providers that cannot sign callbacks get this secret in their callback URL.
    payout_callback_token: SecretStr = SecretStr("")
    sandbox_secret: SecretStr = SecretStr("")
    sandbox_failure_rate: float = Field(default=0.1, ge=0, le=1)
    sandbox_lost_callback_rate: float = Field(default=0.1, ge=0, le=1)
    sandbox_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    sandbox_max_settle_s: float = Field(default=10.0, ge=0)
    momo_base_url: str = "https://sandbox.momodeveloper.mtn.com"
    momo_subscription_key: SecretStr = SecretStr("")
    momo_api_user: str = ""
    momo_api_key: SecretStr = SecretStr("")
    momo_target_environment: str = "sandbox"
    # Planning: the evening job, the morning reminder (local times), the solver budget.
    plan_at: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    reminder_at: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    plan_seconds: float = Field(default=10.0, gt=0, le=600)
    # The planner's other knobs (balance_weight, must_serve_after_days, n_workers...):
    # a TOML file of routes_planner.PlannerParams fields, read at start; empty keeps
    # the defaults. The budget is plan_seconds, not the file's.
    planner_file: str = ""
    _planner: PlannerParams = PrivateAttr(default_factory=PlannerParams)
    # Geocoding JOIN addresses: "none" (plus codes and GPS pins only) or a geopy
    # service name such as "nominatim"; results are cached in the database.
    # Map tiles for the collector and operator maps; pages still list stops without them.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    geocoder: str = "none"
    geocoder_user_agent: str = "recoop (operator contact not set)"
    geocode_suffix: str = ", Lagos, Nigeria"
    kobo_username: str = ""
    kobo_password: SecretStr = SecretStr("")

    # Limits against SMS pumping and runaway cost.
    sms_per_number_per_hour: int = Field(default=10, ge=1)
    # SMS pumping hits runs of numbers: cap messages the service starts per number
    # prefix (the first `sms_prefix_digits` digits of the E.164 number, country code
    # included) and send only to these countries (ISO codes; empty allows any).
    sms_per_prefix_per_hour: int = Field(default=300, ge=1)
    sms_prefix_digits: int = Field(default=8, ge=4, le=14)
    sms_allowed_countries: StrList = ("NG",)
    inbound_per_number_per_hour: int = Field(default=60, ge=1)
    sms_max_attempts: int = Field(default=8, ge=1)
    sms_default_ttl_s: int = Field(default=6 * 3600, ge=60)

    # Money guards (used by the ledger; listed here so one place documents them).
    min_redemption_kobo: int = 5000
    payout_daily_cap_kobo: int = 100_000_000
    outstanding_credit_cap_kobo: int = 1_000_000_000

    # Database connections per process (PostgreSQL): size it for the expected concurrency.
    db_pool_size: int = Field(default=20, ge=1, le=500)
    dispatcher_interval_s: float = Field(default=0.5, gt=0)
    # How often a standby process tries to take over the scheduled jobs.
    leader_check_s: float = Field(default=2.0, gt=0, le=60)
    # The PostgreSQL advisory lock the scheduler's leader holds (one per deployment).
    leader_lock_id: int = Field(default=0x5245434F, ge=0, lt=2**63)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("trusted_proxies", "sms_allowed_countries", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("sms_allowed_countries", mode="after")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(code.upper() for code in value)

    @model_validator(mode="after")
    def _twilio_needs_credentials(self) -> Settings:
        if self.sms_gateway == "twilio" and not (
            self.twilio_auth_token.get_secret_value() and self.twilio_account_sid
        ):
            raise ConfigError(
                "RECOOP_SMS_GATEWAY=twilio needs RECOOP_TWILIO_ACCOUNT_SID and "
                "RECOOP_TWILIO_AUTH_TOKEN: without the token no webhook can be verified"
            )
        if self.sms_gateway == "africastalking" and not (
            self.africastalking_username
            and self.africastalking_api_key.get_secret_value()
        ):
            raise ConfigError(
                "RECOOP_SMS_GATEWAY=africastalking needs RECOOP_AFRICASTALKING_USERNAME "
                "and RECOOP_AFRICASTALKING_API_KEY"
            )
        for role, name in (
            ("mobile money", self.payout_provider),
            ("airtime", self.airtime_provider),
        ):
            if name not in ("sandbox", "momo", "africastalking"):
                raise ConfigError(
                    f"unknown {role} provider {name!r}: use sandbox, momo or africastalking"
                )
        if {self.payout_provider, self.airtime_provider} - {
            "sandbox"
        } and not self.payout_callback_token.get_secret_value():
            raise ConfigError(
                "a real payout provider needs RECOOP_PAYOUT_CALLBACK_TOKEN to authenticate its callbacks"
            )
        if self.planner_file:
            self._planner = _planner_params(self.planner_file)
        return self

    def planner_params(self, seconds: float | None = None) -> PlannerParams:
        """The planner's parameters, with ``seconds`` (else ``plan_seconds``) to plan."""
        return self._planner.replace(time_limit_s=seconds or self.plan_seconds)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Build settings from `environ` (default: the process environment)."""
        if environ is None:
            return cls(**overrides)
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = f"RECOOP_{name.upper()}"
            if key in environ:
                values[name] = environ[key]
        values.update(overrides)
        return cls(_env_file=None, **values)  # type: ignore[call-arg]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr__(self) -> str:
        shown = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else ""
            elif name == "database_url":
                value = _mask_url_password(str(value))
            shown.append(f"{name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__


def _planner_params(path: str) -> PlannerParams:
    where = f"RECOOP_PLANNER_FILE={path}"
    try:
        with open(path, "rb") as fh:
            keys = tomllib.load(fh)
        if "time_limit_s" in keys:
            raise ValueError(
                "the planning budget is RECOOP_PLAN_SECONDS, not time_limit_s here"
            )
        return PlannerParams.from_file(path)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:  # tomllib's TOMLDecodeError is one too
        raise ConfigError(f"{where}: {exc}") from None


def _mask_url_password(url: str) -> str:
    # postgresql+asyncpg://user:secret@host/db -> postgresql+asyncpg://user:***@host/db
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, at, host = rest.rpartition("@")
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"
