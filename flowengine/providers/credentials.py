"""Where speech providers' keys and endpoints come from: the engine's configuration (`speech.providers.<name>`)
first, then each vendor's usual environment variables. Keys are secrets: never in a repr or a log line.

The engine sets the configured values once at start (`configure`); every provider factory and readiness
check reads `access(name)`, so the catalogue says a provider is available exactly when its key is there."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Access:
    """One vendor's credentials and endpoint; "" = not set."""

    api_key: str = field(default="", repr=False)
    base_url: str = ""  # overrides the vendor's own (regional, on-premises, compatible or fake server)
    region: str = ""  # Azure speech region, AWS region
    secret: str = field(default="", repr=False)  # the second secret some vendors use (AWS secret access key)
    account: str = ""  # the account some vendors add to the key (PlayHT user id)
    stt_model: str = ""  # the vendor's recognition model instead of the engine's default (Deepgram nova-2-phonecall)

    def merged(self, fallback: Access) -> Access:
        """Each field from self, else from `fallback`."""
        return Access(self.api_key or fallback.api_key, self.base_url or fallback.base_url,
                      self.region or fallback.region, self.secret or fallback.secret,
                      self.account or fallback.account, self.stt_model or fallback.stt_model)


@dataclass(frozen=True)
class VendorEnv:
    """The environment variables a vendor's own SDKs read, in order."""

    api_key: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    secret: tuple[str, ...] = ()
    account: tuple[str, ...] = ()
    needs: tuple[str, ...] = ("api_key",)  # the fields without which nothing can be asked of the vendor


ENVIRONMENT: dict[str, VendorEnv] = {
    "deepgram": VendorEnv(("DEEPGRAM_API_KEY",)),
    "elevenlabs": VendorEnv(("ELEVENLABS_API_KEY", "ELEVEN_API_KEY")),
    "cartesia": VendorEnv(("CARTESIA_API_KEY",)),
    "azure": VendorEnv(("AZURE_SPEECH_KEY", "SPEECH_KEY"), region=("AZURE_SPEECH_REGION", "SPEECH_REGION"),
                       needs=("api_key", "region")),
    "openai": VendorEnv(("OPENAI_API_KEY",)),
    "aws": VendorEnv(("AWS_ACCESS_KEY_ID",), region=("AWS_REGION", "AWS_DEFAULT_REGION"),
                     secret=("AWS_SECRET_ACCESS_KEY",), needs=("api_key", "secret", "region")),
    "google": VendorEnv(("GOOGLE_API_KEY",)),
    "hume": VendorEnv(("HUME_API_KEY",)),
    "playht": VendorEnv(("PLAYHT_API_KEY",), account=("PLAYHT_USER_ID",), needs=("api_key", "account")),
}

_configured: dict[str, Access] = {}


def configure(accesses: Mapping[str, Access]) -> None:
    """The engine's `speech.providers` (replacing what an earlier engine in this process set)."""
    _configured.clear()
    _configured.update(accesses)


def _first(names: tuple[str, ...], environ: Mapping[str, str]) -> str:
    return next((environ[n] for n in names if environ.get(n)), "")


def access(vendor: str, environ: Mapping[str, str] | None = None,
           configured: Mapping[str, Access] | None = None) -> Access:
    """The vendor's credentials: configured values (`configured`, default: what the engine set), each missing
    one from the environment."""
    env = os.environ if environ is None else environ
    names = ENVIRONMENT.get(vendor, VendorEnv())
    from_env = Access(_first(names.api_key, env), "", _first(names.region, env), _first(names.secret, env),
                      _first(names.account, env))
    return (_configured if configured is None else configured).get(vendor, Access()).merged(from_env)


def missing(vendor: str, environ: Mapping[str, str] | None = None,
            configured: Mapping[str, Access] | None = None) -> str:
    """"" when what the vendor needs is set, else what to set, in words a user can act on."""
    names = ENVIRONMENT.get(vendor, VendorEnv())
    found = access(vendor, environ, configured)
    lacking = [f for f in names.needs if not getattr(found, f)]
    if not lacking:
        return ""
    what = []
    for f in lacking:
        env = " or ".join(getattr(names, f))
        what.append(f"speech.providers.{vendor}.{f}" + (f" (or {env})" if env else ""))
    return f"no {' / '.join(lacking)} for {vendor}: set " + ", ".join(what)


def ready_for(vendor: str) -> Callable[..., str]:
    """A registry `ready` check: the vendor's credentials are set."""

    def ready(**_: object) -> str:
        return missing(vendor)

    return ready
