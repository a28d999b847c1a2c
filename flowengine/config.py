"""Engine configuration: YAML file + FLOWENGINE_* environment overrides, validated once at start."""
from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from flowengine.providers.catalogue import STT, TTS
from flowengine.providers.credentials import ENVIRONMENT, Access, missing
from flowengine.providers.pricing import PriceTable
from flowengine.tenancy import ENGINE_CUSTOMER_ID

ENV_PREFIX = "FLOWENGINE_"
ENV_SEPARATOR = "__"
DEFAULT_MAX_BODY_BYTES = 1 << 20


class ConfigError(Exception):
    """The configuration has problems; `problems` lists every one, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AsteriskConfig(_Section):
    ari_url: str = "http://127.0.0.1:8088"
    ari_username: str = "flowengine"
    ari_password: SecretStr = SecretStr("")
    app: str = Field("flowengine", pattern=r"^[A-Za-z0-9_.-]+$")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "flowengine"
    ami_secret: SecretStr = SecretStr("")
    reconnect_min_s: float = Field(0.2, gt=0)
    reconnect_max_s: float = Field(5.0, gt=0)
    # Start a private Asterisk in this folder with the engine (development, demo); its
    # ports and credentials then replace the ones above.
    private_dir: str = ""

    @field_validator("ari_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("reconnect_max_s")
    @classmethod
    def _backoff(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("reconnect_min_s")
        if low is not None and value < low:
            raise ValueError(f"must be >= reconnect_min_s ({low})")
        return value

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> AsteriskConfig:
        needed = not info.context or info.context.get("asterisk", True)
        if needed and not self.private_dir and not self.ari_password.get_secret_value():
            raise ValueError("ari_password is required (or set private_dir to run a private Asterisk)")
        return self


class MediaConfig(_Section):
    bind_host: str = "127.0.0.1"
    # What Asterisk is told to send RTP to; differs from bind_host behind NAT or in containers.
    advertise_host: str = ""
    port_min: int = Field(40000, ge=1024, le=65535)
    port_max: int = Field(49999, ge=1024, le=65535)
    format: Literal["ulaw", "slin16"] = "ulaw"
    # The event loop (media clock) as a real-time thread (SCHED_RR) where the process may, else nice -10:
    # a host that shares the CPU by session keeps a nice -10 loop waiting behind other sessions (issue 19.5).
    realtime: bool = False

    @field_validator("port_max")
    @classmethod
    def _range(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("port_min")
        if low is not None and value < low:
            raise ValueError(f"must be >= port_min ({low})")
        return value

    @property
    def external_host(self) -> str:
        return self.advertise_host or self.bind_host


class NumberRoute(_Section):
    """One routed number: the flow its calls run, and the customer they run as (their records, webhooks
    and flows are that customer's). Without `customer_id` the engine's own customer, as `number: flow_id`."""

    flow_id: str = Field(min_length=1)
    customer_id: str = ENGINE_CUSTOMER_ID

    @field_validator("customer_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"not a customer id (a UUID): {value!r}") from None


class RoutesConfig(_Section):
    """Dialed number -> flow id (or {flow_id, customer_id}); calls to other numbers take `default_flow`,
    as the engine's customer. Numbers created through the API (/v1.0/numbers) come after these."""

    default_flow: str = ""
    numbers: dict[str, str | NumberRoute] = Field(default_factory=dict)

    def routes(self) -> dict[str, NumberRoute]:
        """Every number in the long form."""
        return {number: route if isinstance(route, NumberRoute) else NumberRoute(flow_id=route)
                for number, route in self.numbers.items()}


class CallsConfig(_Section):
    # Where recording_start files go; must be Asterisk's recording folder when Asterisk is local.
    recordings_dir: str = ""


class SpeechProviderConfig(_Section):
    """One cloud speech vendor's credentials and endpoint (`speech.providers.deepgram`...); what is not set here
    comes from the vendor's usual environment variables (flowengine.providers.credentials)."""

    api_key: SecretStr = SecretStr("")
    base_url: str = ""  # a regional, on-premises or compatible server instead of the vendor's own
    region: str = ""  # azure: the speech resource's region; aws: the Polly region
    secret: SecretStr = SecretStr("")  # aws: the secret access key
    account: str = ""  # playht: the user id
    stt_model: str = ""  # the recognition model (deepgram: nova-3 by default; nova-2-phonecall for phone audio)

    def access(self) -> Access:
        return Access(self.api_key.get_secret_value(), self.base_url.rstrip("/"), self.region,
                      self.secret.get_secret_value(), self.account, self.stt_model)


class SpeechConfig(_Section):
    """The voice of `talk`, the HTTP server Asterisk fetches rendered speech from, the cloud speech vendors'
    credentials, and what takes over when a cloud recogniser or voice fails for good during a call."""

    providers: dict[str, SpeechProviderConfig] = Field(default_factory=dict)
    # a recogniser / voice that takes over an AI call whose own one failed for good ("" = none: the call ends
    # with an apology in the offline voice and a pipeline-error end reason)
    fallback_stt: str = ""
    fallback_tts: str = ""

    tts: str = "piper"
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, ge=0, le=65535)  # 0: any free port
    advertise_host: str = ""  # the address Asterisk reaches http_host by (other host, NAT)
    cache_dir: str = "run/speech"
    # load the offline speech models (whisper, piper) in the background at start, so the first AI
    # call does not wait seconds for them
    warm_up: bool = True

    @field_validator("providers")
    @classmethod
    def _vendors(cls, value: dict[str, SpeechProviderConfig]) -> dict[str, SpeechProviderConfig]:
        unknown = sorted(set(value) - set(ENVIRONMENT))
        if unknown:
            raise ValueError(f"no cloud speech vendor is called {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(sorted(ENVIRONMENT))})")
        return value

    @field_validator("fallback_stt", "fallback_tts")
    @classmethod
    def _fallback(cls, value: str, info: ValidationInfo) -> str:
        """Checked for being a provider here; whether its key is set is checked when the engine starts."""
        if value:
            answer = (STT if info.field_name == "fallback_stt" else TTS).check(value)
            if not answer.runs_here:
                raise ValueError(f"{value!r} is not available: {answer.reason}")
        return value

    @field_validator("tts")
    @classmethod
    def _voice(cls, value: str) -> str:
        """A voice the engine cannot run is a configuration error, not a `talk` that fails on a live call."""
        answer = TTS.check(value)
        if not answer.runs_here:
            raise ValueError(f"{value!r} is not available: {answer.reason}")
        return value

    @model_validator(mode="after")
    def _keys(self) -> SpeechConfig:
        """The voice of `talk` and the fallbacks have their keys (here or in the environment)."""
        configured = {name: p.access() for name, p in self.providers.items()}
        problems = []
        for key, catalogue, name in (("tts", TTS, self.tts), ("fallback_tts", TTS, self.fallback_tts),
                                     ("fallback_stt", STT, self.fallback_stt)):
            vendor = catalogue.resolve(name) if name else None
            if vendor in ENVIRONMENT and (lacking := missing(vendor, configured=configured)):
                problems.append(f"{key} {name!r}: {lacking}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def accesses(self) -> dict[str, Access]:
        return {name: p.access() for name, p in self.providers.items()}


class SmtpConfig(_Section):
    host: str = ""
    port: int = Field(25, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "flowengine@localhost"
    starttls: bool = False


class OutboundConfig(_Section):
    """How `connect` and `call` dial an address, by its type; `{target}` is the address target."""

    endpoints: dict[str, str] = Field(default_factory=lambda: {
        "tel": "PJSIP/{target}@carrier", "sip": "PJSIP/{target}", "extension": "Local/{target}@flowengine-extensions",
    })
    dial_timeout_s: int = Field(30, ge=1, le=600)


class CampaignConfig(_Section):
    """Caps shared by every campaign on this engine's Asterisk (each campaign has its own below them)."""

    max_concurrent_calls: int = Field(50, ge=1, le=10000)
    max_calls_per_second: float = Field(10.0, gt=0, le=1000)


class ApiConfig(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port
    # Bearer key that manages customers and access keys (/v1.0/customers, /v1.0/accesskeys); empty: none.
    admin_key: SecretStr = SecretStr("")
    # Largest request body accepted (413 past it); flows are the largest bodies and stay far below 1 MiB.
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024)


class WebhooksConfig(_Section):
    """Delivery of customers' webhooks through the store's outbox: retried with exponential backoff
    (backoff_min_s, doubling up to backoff_max_s) until max_age_s after the event, then given up
    (the row stays, `failed`)."""

    max_age_s: float = Field(6 * 3600.0, gt=0)
    backoff_min_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(300.0, gt=0)
    timeout_s: float = Field(10.0, gt=0, le=300)  # one attempt: connect, send, the receiver's answer
    concurrency: int = Field(8, ge=1, le=256)  # receivers sent to at once (one event per customer at a time)

    @field_validator("backoff_max_s")
    @classmethod
    def _backoff(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("backoff_min_s")
        if low is not None and value < low:
            raise ValueError(f"must be >= backoff_min_s ({low})")
        return value


class StoreConfig(_Section):
    url: str = "sqlite+aiosqlite:///run/flowengine.db"
    # Fernet key (32 random bytes, URL-safe base64) for secrets at rest (engine keys, webhook
    # secrets); `flowengine.store.generate_secret_key()` makes one. Older keys still decrypt.
    secret_key: SecretStr = SecretStr("")
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class NodeConfig(_Section):
    """This engine node among those sharing one store: its id (empty: derived from the host name and the ARI
    app, so a restart is the same node) and the lease on its records and ARI app it renews every lease_s/3.
    A node killed without stopping is settled by another once lease_s has run out."""

    id: str = Field("", max_length=128, pattern=r"^[A-Za-z0-9_.:@-]*$")
    lease_s: float = Field(15.0, ge=0.3, le=3600)


class Config(_Section):
    asterisk: AsteriskConfig = Field(default_factory=AsteriskConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    routes: RoutesConfig = Field(default_factory=RoutesConfig)
    calls: CallsConfig = Field(default_factory=CallsConfig)
    speech: SpeechConfig = Field(default_factory=SpeechConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    outbound: OutboundConfig = Field(default_factory=OutboundConfig)
    campaign: CampaignConfig = Field(default_factory=CampaignConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    node: NodeConfig = Field(default_factory=NodeConfig)
    prices: PriceTable = Field(default_factory=PriceTable)  # AI call costs (flowengine.providers.pricing)
    flows_dir: str = "flows"


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """FLOWENGINE_ASTERISK__ARI_PASSWORD=x -> {"asterisk": {"ari_password": "x"}}.

    Values stay strings (pydantic converts numbers and booleans); a value written as a
    YAML/JSON mapping (`{"100": "menu"}`) is parsed, for mapping keys such as routes.numbers.
    """
    tree: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX):].split(ENV_SEPARATOR))
        if path[0] not in Config.model_fields:
            continue  # other FLOWENGINE_* variables (template folders...) are not config keys
        value: Any = raw
        if raw.lstrip().startswith("{"):
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        origin[path] = name
    return tree, origin


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None, *,
                need_asterisk: bool = True) -> Config:
    """Read the YAML file (optional), apply environment overrides, validate everything at once.
    `need_asterisk=False` is for commands that only open the store (keys, customers): a config
    without ARI credentials is then not an error."""
    source = str(path) if path else "<defaults>"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(source, ["file not found"]) from None
        except UnicodeDecodeError:
            raise ConfigError(source, ["not a text file: a config is YAML in UTF-8"]) from None
        except OSError as exc:  # a folder, no permission...
            raise ConfigError(source, [f"cannot read it: {exc.strerror or exc}"]) from None
        except yaml.YAMLError as exc:
            raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(source, ["the top level must be a mapping of sections"])
        data = loaded or {}
    overrides, origin = _env_overrides(os.environ if environ is None else environ)
    data = _merge(data, overrides)
    for section, field in Config.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            data.setdefault(section, {})  # so a section's own checks name the section
    try:
        return Config.model_validate(data, context={"asterisk": need_asterisk})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key = ".".join(loc) or "(top level)"
            env = origin.get(loc)
            where = f"{key} (from {env})" if env else key
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{where}: {message}")
        raise ConfigError(source, problems) from None
