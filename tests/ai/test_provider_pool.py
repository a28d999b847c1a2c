"""The provider pool: offline speech models load once, ahead of the first call when warmed up."""
from __future__ import annotations

import logging

import pytest

from flowengine.ai.providers import ProviderPool, ProviderUnavailable
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


async def test_names_are_the_catalogues_aliases_share_one_instance_and_missing_setup_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ProviderPool()
    try:
        assert pool.stt("faster-whisper") is pool.stt("") and pool.tts("ESPEAK") is pool.tts("espeak")
        with pytest.raises(ProviderUnavailable, match=r"^stt_type 'speechmatics' is not available: this engine has "
                                                      r"no provider for Speechmatics speech recognition"):
            pool.stt("speechmatics")  # a name with no provider here: refused, never run on whisper
        monkeypatch.delenv("DEEPGRAM_API_KEY", raising=False)
        with pytest.raises(ProviderUnavailable, match=r"^stt_type 'deepgram' is not available: no api_key for "
                                                      r"deepgram: set speech.providers.deepgram.api_key"):
            pool.stt("deepgram")  # a cloud recogniser without its key
        monkeypatch.setattr("flowengine.providers.needs.shutil.which", lambda program: None)
        fresh = ProviderPool()
        with pytest.raises(ProviderUnavailable, match=r"^tts_type 'espeak' is not available: espeak-ng is not installed"):
            fresh.tts("espeak")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with pytest.raises(ProviderUnavailable, match="environment variable OPENAI_API_KEY"):
            pool.llm("openai.gpt-4o", "", {})
        llm = pool.llm("openai.gpt-4o", "sk-test", {})
        assert llm.name == "openai"
        await llm.aclose()
    finally:
        await pool.aclose()


async def test_a_configured_recognition_model_is_the_shared_recognisers() -> None:
    from flowengine.providers import credentials
    from flowengine.providers.credentials import Access

    credentials.configure({"deepgram": Access(api_key="dg-1", stt_model="nova-2-phonecall")})
    pool = ProviderPool()
    try:
        recogniser = pool.stt("deepgram")
        assert recogniser.model == "nova-2-phonecall"  # type: ignore[attr-defined]
        assert "model=nova-2-phonecall" in recogniser.make_stream("en-US", ())._url  # type: ignore[attr-defined]
    finally:
        await pool.aclose()
        credentials.configure({})
