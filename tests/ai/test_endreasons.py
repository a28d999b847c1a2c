"""Ended reasons: every Vapi endedReason the engine sets is one Vapi documents, and each maps to VoIPBIN and VoiceOS."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.ai import endreasons as er
from flowengine.ai.placedcalls import endings
from flowengine.providers.llm.endpoints import ENDPOINTS

SEED = Path(__file__).parent.parent / "fixtures" / "vapi_ended_reasons.txt"


def documented() -> set[str]:
    return {line.strip() for line in SEED.read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_the_table_is_vapis_documented_list() -> None:
    assert documented() == er.DOCUMENTED


def test_every_reason_the_engine_sets_is_documented() -> None:
    set_here = {*er.ENDINGS, *endings.NOT_ANSWERED.values(), *endings.DIALSTATUS.values(),
                endings.FAILED_TO_CONNECT, endings.ENGINE_FAILED}
    assert set_here <= er.DOCUMENTED, set_here - er.DOCUMENTED
    assert "call.start.error-failed-to-connect" not in set_here


@pytest.mark.parametrize("provider", ["piper", "espeak", "whisper", "rules", "unknown", "", *ENDPOINTS])
@pytest.mark.parametrize("component", er.COMPONENTS)
def test_a_failed_provider_is_a_documented_pipeline_error(provider: str, component: er.Component) -> None:
    assert er.pipeline_error(provider, component) in er.DOCUMENTED


def test_pipeline_errors_name_the_vendor_when_vapi_knows_it() -> None:
    assert er.pipeline_error("openai", "llm") == "pipeline-error-openai-llm-failed"
    assert er.pipeline_error("groq", "llm") == "pipeline-error-groq-llm-failed"
    assert er.pipeline_error("together", "llm") == "pipeline-error-together-ai-llm-failed"
    assert er.pipeline_error("elevenlabs", "voice") == "pipeline-error-eleven-labs-voice-failed"
    assert er.pipeline_error("deepgram", "transcriber") == "pipeline-error-deepgram-transcriber-failed"
    # the engine's own, and OpenAI-compatible LLMs Vapi does not list
    assert er.pipeline_error("rules", "llm") == "pipeline-error-custom-llm-llm-failed"
    assert er.pipeline_error("mistral", "llm") == "pipeline-error-custom-llm-llm-failed"
    assert er.pipeline_error("piper", "voice") == "assistant-error"
    assert er.pipeline_error("whisper", "transcriber") == "assistant-error"


@pytest.mark.parametrize(("stored", "shown"), [
    ("pipeline-error-flowengine-failed", "assistant-error"),
    ("pipeline-error-piper-voice-failed", "assistant-error"),
    ("pipeline-error-openai-llm-failed", "pipeline-error-openai-llm-failed"),
    ("pipeline-error-rules-llm-failed", "pipeline-error-custom-llm-llm-failed"),
    ("call.start.error-failed-to-connect", "vapi-error-phone-call-worker-call-never-connected"),
    ("task-timed-out", "unknown-error"),
    ("customer-ended-call", "customer-ended-call"),
])
def test_reasons_stored_before_are_shown_as_the_closest_documented_one(stored: str, shown: str) -> None:
    assert er.vapi_reason(stored) == shown


def test_each_reason_maps_to_voipbin_and_voiceos() -> None:
    assert (er.hangup_reason(er.CUSTOMER_ENDED), er.voiceos_reason(er.CUSTOMER_ENDED)) == ("normal", "user_ended")
    assert er.ending(er.CUSTOMER_ENDED).hangup_by == "remote"
    assert er.hangup_reason(er.pipeline_error("piper", "voice")) == "failed"
    assert er.hangup_reason(er.pipeline_error("openai", "llm")) == "failed"
    assert er.hangup_reason(er.EXCEEDED_MAX_DURATION) == "timeout"
