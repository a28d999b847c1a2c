"""Every consumer of provider names asks the catalogue: a name it cannot run is refused with the catalogue's reason,
whether it comes through the VoIPBIN API, an AI file, a Vapi assistant or squad, a VoiceOS agent, `talk` or a call."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from flowengine.ai.definitions import AIDefinitionError, load_ai_file
from flowengine.ai.providers import ProviderPool, ProviderUnavailable
from flowengine.ai.teams import TeamError, squad_to_team
from flowengine.api.vapi.assistant import AssistantError, assistant_to_ai
from flowengine.api.voiceos.agents import AgentProblems, agent_to_ai
from flowengine.api.voiceos.models import AgentConfig
from flowengine.api.voipbin.ais import AIBody
from flowengine.asterisk.media_server import MediaServer
from flowengine.flow.speech import SpeechCache
from flowengine.providers.catalogue import LLM, STT, TTS, ProviderUnavailableError

CUSTOMER = "5e0f8c38-4a5e-4c1b-9a55-7d1c2b3a4f60"
VOICE_REASON = TTS.check("rime").reason  # a voice no provider module here runs
HEARING_REASON = STT.check("deepgram").reason
MODEL_REASON = LLM.check("dialogflow.cx-agent").reason


def test_the_reasons_are_the_catalogues() -> None:
    assert "Rime voices" in VOICE_REASON and "DEEPGRAM_API_KEY" in HEARING_REASON  # deepgram runs here, keyless
    assert "dialogflow is not supported here: it is an intent engine" in MODEL_REASON


def test_voipbin_ai_body() -> None:
    with pytest.raises(ValidationError) as err:
        AIBody(name="a", engine_model="dialogflow.cx-agent", tts_type="rime", stt_type="deepgram")
    found = {str(e["loc"][0]): str(e["msg"]) for e in err.value.errors()}
    assert found.keys() == {"engine_model", "tts_type", "stt_type"}
    assert VOICE_REASON in found["tts_type"] and HEARING_REASON in found["stt_type"]
    assert MODEL_REASON in found["engine_model"]
    body = AIBody(name="a", engine_model="openai.gpt-4o", tts_type="", stt_type="Whisper")
    assert (body.tts_type, body.stt_type) == ("", "Whisper")  # stored as written: "" stays the engine's default


def test_ai_file_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("name: agent\nengine_model: dialogflow.cx-agent\ntts_type: rime\n"
                    "stt_type: whisper\n")
    with pytest.raises(AIDefinitionError) as err:
        load_ai_file(path)
    assert str(err.value) == (f"{path}:2:15: engine_model 'dialogflow.cx-agent' is not available: "
                              f"{MODEL_REASON}; {path}:3:11: tts_type 'rime' is not available: {VOICE_REASON}")
    path.write_text(json.dumps({"tts_type": "espeak", "tool_names": ["teleport"]}))
    with pytest.raises(AIDefinitionError, match=r"agent.yaml:1:1: engine_model is required.*'teleport' is not a tool"):
        load_ai_file(path)
    path.write_text("engine_model: rules.appointments\ntts_type: ''\nstt_type: faster-whisper\n")
    assert load_ai_file(path).ai.stt_type == "faster-whisper"
    path.write_text("engine_model: rules.appointments\nstt_language: de\ntts_voice_id: jennifer\n")
    with pytest.raises(AIDefinitionError) as asked:
        load_ai_file(path)
    assert f"{path}:2:15: stt_language 'de': " in str(asked.value) and "English only" in str(asked.value)
    assert f"{path}:3:15: tts_voice_id 'jennifer': piper has no voice 'jennifer'" in str(asked.value)


def test_vapi_assistant_and_squad_members() -> None:
    assistant = {"name": "a", "model": {"provider": "dialogflow", "model": "cx-agent"},
                 "voice": {"provider": "rimeai"}, "transcriber": {"provider": "deepgram"}}
    with pytest.raises(AssistantError) as err:
        assistant_to_ai(assistant, customer_id=CUSTOMER)
    assert err.value.problems == [
        ("assistant.model.provider", f"'dialogflow' is not available: {MODEL_REASON}"),
        ("assistant.voice.provider", f"'rimeai' is not available: {VOICE_REASON}"),
        ("assistant.transcriber.provider", f"'deepgram' is not available: {HEARING_REASON}")]
    with pytest.raises(TeamError) as team_err:
        squad_to_team({"members": [{"assistant": assistant}]})
    text = str(team_err.value)
    assert f"squad.members[0].assistant.voice.provider: 'rimeai' is not available: {VOICE_REASON}" in text
    assert f"squad.members[0].assistant.transcriber.provider: 'deepgram' is not available: {HEARING_REASON}" in text
    assert f"squad.members[0].assistant.model.provider: 'dialogflow' is not available: {MODEL_REASON}" in text
    ai, _ = assistant_to_ai({"model": {"provider": "together-ai", "model": "m"}, "transcriber": {
        "provider": "faster-whisper"}}, customer_id=CUSTOMER)
    assert (ai.engine_model, ai.tts_type, ai.stt_type) == ("together.m", "piper", "whisper")
    _, ais = squad_to_team({"members": [{"assistant": {"name": "x", "model": {"provider": "openai", "model": "m"},
                                                       "voice": {"provider": "espeak"}}}]})
    assert (ais[0].ai.engine_model, ais[0].ai.tts_type, ais[0].ai.stt_type) == ("openai.m", "espeak", "whisper")
    with pytest.raises(TeamError, match=r"members\[0\].assistant.model.model: required"):
        squad_to_team({"members": [{"assistant": {"name": "x"}}]})


def test_voiceos_agent() -> None:
    config = AgentConfig.model_validate({"voice": {"provider": "rime"}, "transcriber": {"provider": "deepgram"}})
    with pytest.raises(AgentProblems) as err:
        agent_to_ai(config, customer_id=CUSTOMER, name="n", where=[])
    # deepgram runs here (its key may come by the time of the call): only the voice is refused
    assert [(e["loc"], e["msg"]) for e in err.value.errors] == [
        (["body", "voice", "provider"], f"'rime' is not available: {VOICE_REASON}"),
        (["body", "transcriber", "provider"], f"'deepgram' is not available: {HEARING_REASON}")]
    ai = agent_to_ai(AgentConfig.model_validate({}), customer_id=CUSTOMER, name="n", where=[])
    assert (ai.engine_model, ai.tts_type, ai.stt_type) == ("openai.gpt-4o", "piper", "whisper")


def test_talk_and_the_calls_provider_pool(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailableError) as talk:
        SpeechCache.with_voice("rime", MediaServer(tmp_path))
    assert str(talk.value) == f"speech.tts 'rime' is not available: {VOICE_REASON}"
    assert SpeechCache.with_voice("", MediaServer(tmp_path)).tts.name == "piper"
    pool = ProviderPool()
    refused: list[str] = []
    for make in (lambda: pool.tts("rime"), lambda: pool.stt("deepgram"),
                 lambda: pool.llm("dialogflow.cx-agent", "", {})):
        with pytest.raises(ProviderUnavailable) as err:
            make()
        refused.append(str(err.value))
    assert refused == [f"tts_type 'rime' is not available: {VOICE_REASON}",
                       f"stt_type 'deepgram' is not available: {HEARING_REASON}",
                       f"engine_model 'dialogflow.cx-agent' is not available: {MODEL_REASON}"]
