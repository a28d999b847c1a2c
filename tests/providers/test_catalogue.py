"""The provider catalogue: every name of the seeds is known; what runs here, what needs setup, what is refused and why."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.providers import catalogue
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue, ProviderUnavailableError, Status
from flowengine.providers.llm.rules import RulesLLM
from flowengine.providers.needs import missing_modules
from flowengine.providers.registry import ProviderRegistry
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.tts.espeak import EspeakTTS
from flowengine.providers.vendors import Vendor

# seed 001 (VoIPBIN AI): tts_type and stt_type values, engine_model providers
VOIPBIN_TTS = ["elevenlabs", "deepgram", "openai", "aws", "azure", "google", "cartesia", "hume", "playht"]
VOIPBIN_STT = ["deepgram", "cartesia", "elevenlabs"]
VOIPBIN_LLM = ["openai", "anthropic", "aws", "azure", "cerebras", "deepseek", "fireworks", "gemini", "grok", "groq",
               "mistral", "nvidia", "ollama", "openrouter", "perplexity", "qwen", "sambanova", "together",
               "dialogflow"]
# seeds 002-004 (Vapi, VoiceOS) and the spellings of their SDKs
VOICE_PROVIDERS = ["azure", "11labs", "playht", "deepgram", "elevenlabs", "rime", "rimeai"]
TRANSCRIBERS = ["deepgram", "azure"]


@pytest.mark.parametrize(("cat", "names"), [(TTS, VOIPBIN_TTS + VOICE_PROVIDERS), (STT, VOIPBIN_STT + TRANSCRIBERS)])
def test_every_seed_speech_name_is_known_and_never_stands_for_an_offline_provider(
        cat: Catalogue[object], names: list[str]) -> None:
    for name in names:
        answer = cat.check(name)
        assert answer.known, name
        assert answer.provider not in ("piper", "espeak", "whisper"), name  # no silent substitution
        assert answer.status in (Status.NOT_IN_ENGINE, Status.NEEDS_SETUP, Status.AVAILABLE), name
        assert answer.available or answer.reason, name  # what is missing is said
    assert TTS.check("11labs").provider == "elevenlabs" and TTS.check("rimeai").provider == "rime"


def test_every_seed_engine_model_provider_is_known() -> None:
    for provider in VOIPBIN_LLM:
        assert LLM.check(f"{provider}.some-model", api_key="sk-test").known, provider
    assert LLM.check("dialogflow.cx").status is Status.NOT_IN_ENGINE


def test_known_and_available() -> None:
    espeak = TTS.check("espeak")
    assert espeak.available and espeak.provider == "espeak" and espeak.reason == "" and espeak.problem() == ""
    assert isinstance(TTS.create("espeak"), EspeakTTS)
    assert isinstance(STT.create("faster-whisper"), WhisperSTT)  # Vapi's spelling of the same recogniser
    assert isinstance(LLM.create("rules.appointments"), RulesLLM)
    assert LLM.check("openai.gpt-4o", api_key="sk-test").available
    assert catalogue.check("llm", "RULES.appointments").provider == "rules"


def test_the_empty_name_is_the_engines_default_voice_and_recogniser() -> None:
    assert (TTS.check("").provider, STT.check(" ").provider) == ("piper", "whisper")
    assert LLM.check("").status is Status.UNKNOWN  # an LLM is always named


def test_known_but_not_in_this_engine_says_why_and_what_runs_here() -> None:
    answer = STT.check("speechmatics")
    assert (answer.known, answer.runs_here, answer.available) == (True, False, False)
    assert answer.reason == ("this engine has no provider for Speechmatics speech recognition (available here: "
                             f"{', '.join(STT.runnable())})")
    assert "whisper" in STT.runnable()
    with pytest.raises(ProviderUnavailableError) as err:
        STT.create("speechmatics")
    assert str(err.value) == f"stt_type 'speechmatics' is not available: {answer.reason}"
    assert err.value.availability == answer
    voice = TTS.check("Azure")
    assert voice.problem("voice.provider") == ("voice.provider 'Azure' is not available: this engine has no "
                                               "provider for Azure voices (available here: espeak, piper)")
    assert "OpenAI-compatible" in LLM.check("anthropic.claude-3-5-sonnet").reason
    with pytest.raises(ProviderUnavailableError, match=r"engine_model 'aws\.claude-3-sonnet' is not available: aws"):
        LLM.create("aws.claude-3-sonnet")


def test_runs_here_but_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    answer = LLM.check("groq.llama-3.3-70b-versatile")
    assert answer.status is Status.NEEDS_SETUP and answer.runs_here and not answer.available
    assert answer.reason == ("no API key for groq: set the AI's engine_key or the environment variable "
                             "GROQ_API_KEY")
    with pytest.raises(ProviderUnavailableError, match="GROQ_API_KEY"):
        LLM.create("groq.llama-3.3-70b-versatile")
    monkeypatch.setenv("GROQ_API_KEY", "sk-from-env")
    assert LLM.check("groq.llama-3.3-70b-versatile").available
    assert LLM.check("xai.grok-3-mini", api_key="sk-test").provider == "grok"  # Vapi's name for xAI


def test_unknown_names_list_what_is_known() -> None:
    typo = STT.check("deepgrm")
    assert typo.status is Status.UNKNOWN and typo.provider == "" and not typo.known
    assert typo.reason.startswith("no speech recogniser is called 'deepgrm' (known: assemblyai, azure, cartesia,")
    assert typo.reason.endswith(f"; available here: {', '.join(STT.runnable())})")
    assert "no LLM provider is called 'acme'" in LLM.check("acme.model-1").reason
    malformed = LLM.check("gpt-4o")
    assert malformed.status is Status.UNKNOWN
    assert malformed.problem("engine_model") == ("engine_model 'gpt-4o' is not available: it is not "
                                                 "<provider>.<model> (e.g. openai.gpt-4o)")


class _Voice:
    def __init__(self, **settings: object) -> None:
        self.settings = settings


def test_a_new_provider_is_one_registration_away() -> None:
    """What issue 18 does for each cloud provider: a known name starts running when a module registers it."""
    registry: ProviderRegistry[_Voice] = ProviderRegistry("tts")
    cat = Catalogue("tts", registry, (Vendor("acmevoice", "Acme voices", ("acme-voice",)),), field="tts_type",
                    noun="voice")
    assert cat.check("acme-voice").status is Status.NOT_IN_ENGINE
    registry.register("acmevoice", ready=lambda *, api_key="", **_: "" if api_key else "needs ACME_API_KEY")(_Voice)
    assert cat.check("acme-voice").reason == "needs ACME_API_KEY"
    assert cat.check("acme-voice", api_key="k").available
    made = cat.create("acme-voice", api_key="k")
    assert isinstance(made, _Voice) and made.settings == {"api_key": "k"}
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("acmevoice")(_Voice)
    registry.register("local", ready=lambda **_: missing_modules(("no_such_module_here",), "pip install local"))(_Voice)
    assert cat.check("local").reason == "pip install local"  # registered names are known without a vendor line
    with pytest.raises(ProviderUnavailableError, match=r"^speech\.tts 'local' is not available: pip install local$"):
        cat.create("local", field="speech.tts")


def test_a_language_the_bundled_whisper_cannot_do_is_unsupported_naming_the_language() -> None:
    german = STT.check("whisper", language="de")
    assert german.status is Status.UNSUPPORTED and not german.runs_here and german.setting == "language"
    assert german.reason.startswith("'de' is not a language the offline Whisper tiny.en understands (English only); ")
    assert german.blame("stt_type", {"language": "stt_language"}) == ("stt_language", german.reason)
    assert german.blame("transcriber.provider")[0] == "transcriber.provider"  # no field for the setting given
    for english in ("", "en", "en-US", "EN_gb"):
        assert STT.check("faster-whisper", language=english).available, english
    assert STT.check("", language="fr").status is Status.UNSUPPORTED  # the default recogniser is the same Whisper


def test_a_multilingual_whisper_model_folder_does_other_languages(tmp_path: Path) -> None:
    folder = tmp_path / "multi"
    folder.mkdir()
    (folder / "vocabulary.txt").write_text("t\n" * 51865)
    assert STT.check("whisper", language="de", model_path=str(folder)).status is not Status.UNSUPPORTED
    english = tmp_path / "english"
    english.mkdir()
    (english / "vocabulary.txt").write_text("t\n" * 51864)
    assert STT.check("whisper", language="de", model_path=str(english)).status is Status.UNSUPPORTED


def test_piper_knows_its_voices() -> None:
    missing = TTS.check("piper", voice_id="en_GB-alba-medium")
    assert missing.status is Status.UNSUPPORTED and missing.setting == "voice_id"
    assert missing.reason == ("piper has no voice 'en_GB-alba-medium' here (its voices: en_US-joe-medium; "
                              "empty is en_US-joe-medium)")
    assert missing.blame("tts_type", {"voice_id": "tts_voice_id"}) == ("tts_voice_id", missing.reason)
    assert TTS.check("piper", voice_id="en_US-joe-medium").available and TTS.check("", voice_id="").available
    assert TTS.check("espeak", voice_id="en+f3").available  # espeak-ng's voices are its own business
    with pytest.raises(ProviderUnavailableError, match="piper has no voice 'x'"):
        TTS.require("piper", voice_id="x")
