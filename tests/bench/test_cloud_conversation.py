"""`bench conversation --providers cloud`: the fakes' stack, the report's shape, provider time accounted per turn,
and the turn-ending comparison."""
from __future__ import annotations

import argparse
import os
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from flowengine.ai.aicall import LiveAICall
from flowengine.ai.voice.metrics import TurnMetrics
from flowengine.bench.cloud import LONG_REPLY, SHORT_REPLY, cloud_stack
from flowengine.bench.cloud_conversation import compare, run_cloud_conversation_bench, run_report
from flowengine.bench.demo import PAUSE, PAUSE_S, caller_prompt
from flowengine.cli import bench as cli
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import ChatMessage, TextDelta
from flowengine.providers.llm.endpoints import ANTHROPIC, base_url_env
from flowengine.providers.tts import TTS_PROVIDERS

DELAY_MS = 50.0


@pytest.mark.asterisk  # the bench's own private Asterisk, as `flowengine bench conversation` starts it
async def test_a_short_cloud_run_accounts_every_providers_time() -> None:
    report = await run_cloud_conversation_bench(1, 1, network_delay_ms=DELAY_MS, stop_secs=(0.6,))
    assert report["providers"] == "cloud" and report["network_delay_ms"] == DELAY_MS
    assert report["vendors"] == {"stt": "deepgram", "tts": "elevenlabs", "llm": "anthropic"}
    (run,) = report["runs"]
    assert run["vad_stop_secs"] == 0.6
    assert run["provider_requests"]["stt_sockets"] >= 1 and run["provider_requests"]["llm_requests"] >= 2
    assert run["provider_requests"]["tts_sockets"] >= 3  # the greeting and a reply per caller turn
    # the caller's turn, the opening-hours question and the interruption (a turn cut in two adds one)
    assert run["turns"] >= 3 and len(run["per_turn"]) == run["turns"]
    ends = run["turn_ends"]
    assert ends["by_recogniser"] + ends["by_vad"] == run["turns"]
    assert ends["utterances"] == 3 and run["turns"] == ends["utterances"] + ends["false_cuts"]
    assert ends["false_cuts_by_recogniser"] + ends["false_cuts_by_vad"] >= ends["false_cuts"]
    answered = [t for t in run["per_turn"] if t["engine_ms"] is not None]  # a reply cut short may have none
    assert answered and answered[0]["index"] == 1
    for turn in run["per_turn"]:
        assert turn["ended_by"] in ("vad", "recogniser") and turn["stt_wait_ms"] is not None
    for turn in answered:
        # each provider's answer paid the injected network delay, and it is counted as the provider's time
        assert turn["llm_first_token_ms"] >= DELAY_MS and turn["tts_first_audio_ms"] >= DELAY_MS
        assert turn["engine_ms"] >= 0
    for name in ("stt_wait_ms", "llm_first_token_ms", "tts_first_audio_ms"):
        assert set(run["provider_ms"][name]) == {"p50", "p95"}
    assert run["engine_ms"]["p50"] is not None and run["engine_ms_target"] == 20.0
    assert run["caller_turns_answered"] == 1 and set(run["voice_to_voice_ms"]) == {"p50", "p95"}
    assert {"barge_in_stop_ms", "barge_ins", "barge_ins_resumed"} <= set(run)
    assert report["turn_ending"]["sooner"] is None  # one run: nothing to compare
    assert set(report["definitions"]) >= {"engine_ms", "stt_wait_ms", "endpointing_ms", "turn_ends"}
    assert os.environ.get(base_url_env(ANTHROPIC.provider)) is None  # the stack put the environment back


def _run(stop: float, endpointing: list[float], ended_by: list[str], false_cuts: int) -> dict[str, Any]:
    turns = [TurnMetrics(index=i + 1, ended_by=by, endpointing_ms=ms, stt_wait_ms=5.0, llm_first_token_ms=60.0,
                         tts_first_audio_ms=55.0, engine_ms=3.0)
             for i, (ms, by) in enumerate(zip(endpointing, ended_by, strict=True))]
    turns.append(TurnMetrics(index=0))  # an opening / tool follow-up: not a caller's turn
    live = SimpleNamespace(conversation=SimpleNamespace(turns=turns, false_cuts=false_cuts))
    return run_report(cast(LiveAICall, live), None, stop)


def test_the_report_counts_who_ended_each_turn_and_splits_endpointing_by_it() -> None:
    run = _run(0.6, [280.0, 300.0, 600.0], ["recogniser", "recogniser", "vad"], 1)
    assert run["turns"] == 3
    ends = run["turn_ends"]
    assert (ends["by_recogniser"], ends["by_vad"], ends["false_cuts"]) == (2, 1, 1)
    assert ends["endpointing_ms_by_recogniser"]["p50"] == 290.0 and ends["endpointing_ms_by_vad"]["p50"] == 600.0
    assert run["provider_ms"]["llm_first_token_ms"] == {"p50": 60.0, "p95": 60.0}
    assert run["engine_ms_within_target"] is True
    assert run["engine_voice_to_voice_ms"]["p50"] == 300.0 + 120.0 + 3.0 + 20.0


def test_the_comparison_names_the_setting_that_ends_turns_sooner_and_the_one_with_fewer_false_cuts() -> None:
    vad_only = _run(0.2, [200.0, 200.0], ["vad", "vad"], 0)
    recogniser = _run(0.6, [280.0, 300.0], ["recogniser", "recogniser"], 2)
    verdict = compare([vad_only, recogniser])
    assert verdict["sooner"] == 0.2 and verdict["fewer_false_cuts"] == 0.2
    assert "stop_secs 0.2" in verdict["summary"]
    same = compare([vad_only, _run(0.6, [150.0], ["recogniser"], 0)])
    assert same["sooner"] == 0.6 and same["fewer_false_cuts"] is None


async def test_the_receptionist_model_answers_the_hours_question_at_length() -> None:
    async with cloud_stack(0.0) as stack:
        llm = create_llm("anthropic.claude-haiku-4-5", stack.llm.api_key, {}, base_url=stack.llm.base_url)
        try:
            async def answer(text: str) -> str:
                events = [e async for e in llm.stream([ChatMessage("user", text)])]
                return "".join(e.text for e in events if isinstance(e, TextDelta))

            assert await answer("What are your opening hours?") == LONG_REPLY
            assert await answer("Next Tuesday please.") == SHORT_REPLY
        finally:
            await llm.aclose()
        stack.expect("Next Tuesday please.")
        assert list(stack.stt.script) == ["Next Tuesday please."]
        stack.expect(f"My number is five{PAUSE}one two.")  # a part per stretch of speech
        assert list(stack.stt.script) == ["My number is five", "one two."]
        settings = stack.settings()
        assert settings["FLOWENGINE_SPEECH__PROVIDERS__DEEPGRAM__BASE_URL"] == stack.stt.base_url
        assert stack.ai_fields(0.6)["vad_config"] == {"stop_secs": 0.6} and "vad_config" not in stack.ai_fields()


def test_the_cli_refuses_bad_cloud_options_and_keeps_offline_the_default(capsys: Any) -> None:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "conversation"])
    assert args.providers == "offline"
    bad = parser.parse_args(["bench", "conversation", "--providers", "cloud", "--vad-stop-secs", "soon"])
    assert bad.func(bad) == 2
    assert "--vad-stop-secs" in capsys.readouterr().err
    bad = parser.parse_args(["bench", "conversation", "--providers", "cloud", "--network-delay-ms", "-5"])
    assert bad.func(bad) == 2


async def test_a_line_with_a_pause_is_rendered_with_its_silence_mid_thought() -> None:
    tts = TTS_PROVIDERS.create("piper")
    whole = await caller_prompt(tts, f"My number is five{PAUSE}one two.")
    silent = np.flatnonzero(whole == 0)
    runs = np.split(silent, np.flatnonzero(np.diff(silent) != 1) + 1)
    longest = max(runs, key=len)
    assert len(longest) >= round(PAUSE_S * 16000)  # the pause, exactly silent ...
    assert 0.5 * 16000 < longest[0] < whole.size - 0.3 * 16000  # ... between the two parts (voiced, trimmed)
