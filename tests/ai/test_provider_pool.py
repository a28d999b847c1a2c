"""The provider pool: offline speech models load once, ahead of the first call when warmed up."""
from __future__ import annotations

import logging

import pytest

from flowengine.ai.providers import ProviderPool
from flowengine.providers.tts.piper import PiperTTS


async def test_warm_up_loads_the_default_voice_and_recogniser_once() -> None:
    pool = ProviderPool()
    try:
        await pool.warm_up()
        tts = pool.tts("")
        assert isinstance(tts, PiperTTS) and tts._voice is not None  # loaded before any call asked
        assert pool.tts("piper") is tts and pool.stt("") is pool.stt("whisper")
    finally:
        await pool.aclose()


async def test_warm_up_of_an_unknown_voice_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    pool = ProviderPool()
    with caplog.at_level(logging.WARNING, logger="flowengine.ai.providers"):
        await pool.warm_up(tts_type="azure")
    assert "speech warm-up failed" in caplog.text and "tts_type 'azure'" in caplog.text
    await pool.aclose()
