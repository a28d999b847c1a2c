"""What the catalogue says of a speech vendor that is not set up, for the vendor contracts: each credential it
needs, by its config key and its environment variables."""
from __future__ import annotations

import pytest

from flowengine.providers import credentials


def forget_the_environment(vendor: str, monkeypatch: pytest.MonkeyPatch) -> credentials.VendorEnv:
    """No credential of `vendor` comes from this process's environment during the test; its variable names."""
    names = credentials.ENVIRONMENT[vendor]
    for name in (*names.api_key, *names.region, *names.secret, *names.account):
        monkeypatch.delenv(name, raising=False)
    return names


def assert_asks_for_each_credential(vendor: str, reason: str) -> None:
    names = credentials.ENVIRONMENT[vendor]
    for field in names.needs:
        assert f"speech.providers.{vendor}.{field}" in reason
        assert all(env in reason for env in getattr(names, field))
