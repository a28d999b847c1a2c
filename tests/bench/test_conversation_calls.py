"""`bench conversation --calls N`: simultaneous real calls through the bench's own Asterisk, and the report's shape."""
from __future__ import annotations

import argparse

import pytest

from flowengine.bench.conversation_callers import prompts, script_lines
from flowengine.bench.conversation_calls import DEFAULT_STAGGER_S, STALL_MS, V2V_P95_BUDGET_MS, run_calls_bench
from flowengine.bench.corpus import VOICES
from flowengine.cli.bench_calls import format_calls, run_calls


@pytest.mark.asterisk  # the bench's own private Asterisk, as `flowengine bench conversation --calls` starts it
async def test_two_simultaneous_calls_are_measured_per_n() -> None:
    report = await run_calls_bench((2,), turns=2)
    (run,) = report["runs"]
    assert run["calls"] == 2
    assert not run["errors"]
    assert run["turns"] + run["unanswered_turns"] == 4  # 2 callers x 2 turns, each answered or counted
    assert run["turns"] >= 3
    v2v = run["voice_to_voice_ms"]
    assert set(v2v) == {"p50", "p95"} and 0 < v2v["p50"] <= v2v["p95"] <= run["voice_to_voice_max_ms"]
    assert run["stt_ms"]["p50"] is not None and run["stt_ms"]["p50"] > 0  # the engine did recognise the callers
    clock = run["clock"]
    assert clock["ticks"] >= run["window_s"] * 40  # a tick every 20 ms over the window (late ones are counted too)
    assert clock["worst_tick_ms"] >= 0 and clock["stalls_over_60ms"] >= 0
    assert run["cpu_percent_per_call"] > 0 and run["engine_cpu_percent"] >= run["cpu_percent_per_call"]
    assert run["asterisk_cpu_percent"] > 0  # the bench found its Asterisk and it carried the calls
    assert len(run["load_average_1m"]) == 2
    assert run["within_budget"] == (v2v["p95"] <= V2V_P95_BUDGET_MS and clock["stalls_over_60ms"] == 0
                                    and run["unanswered_turns"] == 0)
    assert report["max_calls_within_budget"] == (2 if run["within_budget"] else 0)
    assert report["budget"] == {"voice_to_voice_p95_ms": V2V_P95_BUDGET_MS, "stall_ms": STALL_MS}
    assert report["stagger_s"] == DEFAULT_STAGGER_S
    assert len(run["voice_to_voice_ms_by_turn"]) == 2  # per line of the script
    assert run["stt_wait_ms"]["p50"] is not None and run["endpointing_ms"]["p50"] >= 0
    assert run["callers_cpu_percent"] > 0
    assert {"cpu", "cores", "python"} <= set(report["machine"])
    assert "largest N within budget" in format_calls(report)


def test_callers_speak_the_corpus_in_voices_that_are_not_the_agents() -> None:
    lines = script_lines()
    assert lines and all("," not in line.text and "goodbye" not in line.text.lower() for line in lines)
    rendered = prompts()
    assert set(rendered) == {v.name for v in VOICES}
    for voice in rendered.values():
        assert len(voice) == len(lines) and all(pcm.size > 16000 // 2 for pcm in voice)  # at least half a second
    first = [rendered[v.name][0] for v in VOICES]
    assert len({pcm.tobytes() for pcm in first}) == len(VOICES)  # each voice says it its own way


@pytest.mark.parametrize("calls", ["0", "61", "a,b", "1,2,3,4,5,6,7,8,9,10,11"])
def test_bad_call_counts_are_refused(calls: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(calls=calls, providers="offline", turns_per_call=5, realtime=False, stagger=6.0, json=True)
    assert run_calls(args, None) == 2
    assert "--calls takes" in capsys.readouterr().err


@pytest.mark.parametrize("stagger", [-1.0, 61.0])
def test_a_stagger_out_of_range_is_refused(stagger: float, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(calls="2", providers="offline", turns_per_call=5, realtime=False, stagger=stagger,
                              json=True)
    assert run_calls(args, None) == 2
    assert "--stagger 0..60" in capsys.readouterr().err


def test_cloud_providers_are_refused_with_calls(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(calls="2", providers="cloud", turns_per_call=5, realtime=False, stagger=6.0, json=True)
    assert run_calls(args, None) == 2
