"""`recogniser(ProviderClass, fake, **settings)`: a streaming provider pointed at a fake, closed after the test."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from flowengine.bench.fakes.server import FakeServer
from flowengine.providers.stt.wsstream import WSRecogniser

MakeRecogniser = Callable[..., WSRecogniser]


@pytest.fixture
async def recogniser(speech_access: Callable[..., None]) -> AsyncIterator[MakeRecogniser]:
    made: list[WSRecogniser] = []

    def make(cls: type[WSRecogniser], fake: FakeServer | None = None, *, api_key: str = "", base_url: str = "",
             **settings: Any) -> WSRecogniser:
        speech_access(cls.vendor, api_key=api_key or (fake.api_key if fake else "k"),
                      base_url=base_url or (fake.base_url if fake else ""))
        provider = cls(**settings)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()
