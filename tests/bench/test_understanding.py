"""`bench understanding`: corpus dialogues over real calls, scored per voice and SNR."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from flowengine.bench.dialogue_call import DialogueResult, LineResult, found_slots
from flowengine.bench.understanding import cases, parse_snr, report, run_understanding_bench, snr_name
from flowengine.cli import bench_understanding

GROUP_KEYS = {"calls", "wer", "words", "slot_accuracy", "slots", "booking_success", "bookings", "lines", "split_lines",
              "paused_lines", "split_paused_lines", "talked_over", "calls_with_unanswered_line", "voice_to_voice_ms"}


def test_slots_are_found_as_whole_normalised_words_and_phone_numbers_as_digits() -> None:
    expected = {"day": "Tuesday", "time": "10 in the morning"}
    assert found_slots(expected, "Next Tuesday, at ten in the morning.") == expected
    assert found_slots(expected, "next tuesdays at 110 in the morning") == {}
    assert found_slots({"name": "Alex Morgan"}, "my name is Eric Morgan") == {}
    assert found_slots({"phone": "5551234567"}, "five five five, 123, 45 67") == {"phone": "5551234567"}
    assert found_slots({"phone": "5551234567"}, "five five five, 123") == {}


def _line(said: str, heard: str, turns: int = 1, slots: dict[str, str] | None = None,
          v2v: float | None = 500.0) -> LineResult:
    slots = slots or {}
    return LineResult(said, heard, ["OK."] * turns, turns, slots, found_slots(slots, heard), v2v, False,
                      paused=" | " in said)


def test_the_report_scores_every_group_and_counts_split_lines() -> None:
    good = DialogueResult("booking", "us-male", None, {"day": "Tuesday"},
                          [_line("Tuesday please.", "Tuesday please.", slots={"day": "Tuesday"}),
                           _line("Good | bye.", "Good. Bye.", turns=2, v2v=900.0)], {"day": "Tuesday"})
    bad = DialogueResult("booking", "us-female", 10.0, {"day": "Tuesday"},
                         [_line("Tuesday please.", "Thursday please.", slots={"day": "Tuesday"}, v2v=None)],
                         {"day": "Thursday"}, error="no answer to line 1")
    out = report([good, bad], concurrency=2)
    assert out["calls"] == 2 and set(out["overall"]) == GROUP_KEYS
    assert out["overall"]["booking_success"] == 0.5 and out["overall"]["slot_accuracy"] == 0.5
    assert out["overall"]["split_lines"] == 1 and out["overall"]["split_paused_lines"] == 1
    assert out["overall"]["paused_lines"] == 1 and out["overall"]["calls_with_unanswered_line"] == 1
    assert out["overall"]["voice_to_voice_ms"]["p50"] == 700.0
    assert out["by_voice"]["us-male"]["booking_success"] == 1.0 and out["by_voice"]["us-female"]["wer"] == 0.5
    assert set(out["by_snr"]) == {"clean", "10"} and out["by_snr"]["10"]["booking_success"] == 0.0
    assert out["results"][1]["lines"][0]["heard"] == "Thursday please."
    table = bench_understanding.format_table(out).splitlines()
    assert table[1].split() == ["overall", "2", "0.167", "0.5", "0.5", "1", "700.0", "900.0"]
    assert [row.split()[1] for row in table[2:6]] == ["us-male", "us-female", "clean", "10"]


def test_the_grid_and_its_names() -> None:
    grid = cases(["booking"], ["us-male", "caribbean"], [None, 10.0])
    assert [(c.voice.name, snr_name(c.snr_db)) for c in grid] == [
        ("us-male", "clean"), ("us-male", "10"), ("caribbean", "clean"), ("caribbean", "10")]
    assert parse_snr("clean") is None and parse_snr("20") == 20.0
    with pytest.raises(ValueError, match="unknown dialogue or voice: robot"):
        cases(["booking"], ["robot"])


def test_the_command_refuses_unknown_names_and_bad_concurrency(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(dialogues="booking", voices="robot", snr="clean", concurrency=3, budget=60.0,
                              json=True)
    assert bench_understanding.run(args) == 2
    assert "unknown dialogue or voice: robot" in capsys.readouterr().err
    args.voices, args.concurrency = "us-male", 0
    assert bench_understanding.run(args) == 2


@pytest.mark.asterisk
async def test_one_dialogue_as_a_real_call_through_asterisk(tmp_path: Path) -> None:
    grid = cases(["hours"], ["us-male-slow"], [None])
    out = await run_understanding_bench(grid, concurrency=1, budget_s=120.0, folder=tmp_path)
    heard = [line["heard"] for line in out["results"][0]["lines"]]
    assert out["calls"] == 1 and out["skipped"] == 0, out["results"]
    assert set(out["overall"]) == GROUP_KEYS and list(out["by_voice"]) == ["us-male-slow"]
    assert list(out["by_snr"]) == ["clean"] and out["machine"]["load_average"]["after"]
    assert len(heard) == 3 and all(heard), heard  # the engine transcribed every line (how well: the benchmark's)
    # what the agent answered, per turn of each line ('' for a reply the caller's next words interrupted)
    replies = [line["replies"] for line in out["results"][0]["lines"]]
    assert all(replies) and any(any(r) for r in replies), replies
    assert out["overall"]["words"] == 12 and out["overall"]["wer"] is not None
    assert out["overall"]["bookings"] == 0  # this dialogue books nothing
    assert out["overall"]["voice_to_voice_ms"]["p50"] is not None


@pytest.mark.asterisk
async def test_a_caller_who_corrects_the_read_back_books_what_it_said(tmp_path: Path) -> None:
    # us-male-slow's "At ten in the morning." is heard "five"; read back, the caller says "No, at ten in the
    # morning." and the recogniser, told the hour read back, hears ten
    grid = cases(["booking"], ["us-male-slow"], [None])
    out = await run_understanding_bench(grid, concurrency=1, budget_s=200.0, folder=tmp_path, correcting=True)
    result = out["results"][0]
    # (heard right the first time, nothing is corrected: tests/bench/test_recognition.py holds the miss itself)
    assert result["corrections"] in ([], ["No, at ten in the morning."]), result
    assert result["booking"] == result["expected_booking"] and out["correcting"]
    assert out["corrections"] == len(result["corrections"])
    # each interjection with what the engine heard of it, for reading a lost call
    assert [said["said"] for said in result["interjections"]] == result["corrections"]
    assert all(said["heard"] and said["replies"] for said in result["interjections"])
    assert len(result["lines"]) == 6  # the interjection is not scored as one of the corpus lines
