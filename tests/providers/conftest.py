"""Provider tests: `speech_access` points a vendor at a local fake server (and forgets it afterwards)."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from flowengine.providers import credentials
from flowengine.providers.credentials import Access


@pytest.fixture
def speech_access() -> Iterator[Callable[..., None]]:
    """`speech_access("deepgram", api_key=..., base_url=...)`: what `speech.providers.deepgram` would set."""
    configured: dict[str, Access] = {}

    def set_access(vendor: str, **fields: str) -> None:
        configured[vendor] = Access(**fields)
        credentials.configure(configured)

    yield set_access
    credentials.configure({})
