"""`flowengine providers`: every provider name the seeds use, available or why not, as the API judges it."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from flowengine.api.voipbin.ais import AIBody
from flowengine.cli.main import main
from flowengine.providers import credentials
from flowengine.providers.catalogue import LLM, STT, TTS
from flowengine.providers.listing import Row, probe, rows

SPEECH_ENV = ("DEEPGRAM_API_KEY", "ELEVENLABS_API_KEY", "ELEVEN_API_KEY", "CARTESIA_API_KEY", "AZURE_SPEECH_KEY",
              "SPEECH_KEY", "OPENAI_API_KEY", "AWS_ACCESS_KEY_ID", "GOOGLE_API_KEY", "HUME_API_KEY", "PLAYHT_API_KEY")


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SPEECH_ENV:
        monkeypatch.delenv(name, raising=False)
    credentials.configure({})


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> dict[tuple[str, str], dict[str, object]]:
    assert main(["providers", "--json", *args]) == 0
    found = json.loads(capsys.readouterr().out)["providers"]
    return {(p["kind"], p["name"]): p for p in found}


def test_every_seed_name_is_listed_with_why_it_is_not_available(capsys: pytest.CaptureFixture[str]) -> None:
    found = listed(capsys)
    for kind, names in (("stt", ("whisper", "deepgram", "cartesia", "elevenlabs", "azure", "openai")),
                        ("tts", ("piper", "espeak", "elevenlabs", "deepgram", "openai", "aws", "azure", "google",
                                 "cartesia", "hume", "playht")),
                        ("llm", ("openai", "anthropic", "aws", "azure", "gemini", "rules", "dialogflow"))):
        for name in names:
            assert (kind, name) in found, (kind, name)
    assert (found["stt", "whisper"]["status"], found["stt", "whisper"]["reason"]) == ("available", "")
    deepgram = found["stt", "deepgram"]
    assert deepgram["status"] == "needs setup" and "DEEPGRAM_API_KEY" in str(deepgram["reason"])
    assert "region" in str(found["tts", "azure"]["reason"])  # azure needs its region too
    assert found["llm", "dialogflow"]["status"] == "not in this engine"
    assert "intent engine" in str(found["llm", "dialogflow"]["reason"])
    assert found["stt", "speechmatics"]["status"] == "not in this engine"


def test_a_configured_key_makes_a_vendor_available_and_its_url_is_shown(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("speech:\n  providers:\n    deepgram: {api_key: dg-secret-1, base_url: 'http://127.0.0.1:9'}\n")
    found = listed(capsys, "--config", str(config))
    assert found["stt", "deepgram"]["status"] == "available" and found["tts", "deepgram"]["status"] == "available"
    assert found["stt", "deepgram"]["base_url"] == "http://127.0.0.1:9"
    assert main(["providers", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "dg-secret-1" not in text and "deepgram" in text  # the key is never printed


def test_the_api_refuses_exactly_the_speech_providers_listed_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTESIA_API_KEY", "c-key")  # one cloud vendor set up, the others not
    checked = 0
    for row in rows():
        if row.kind == "llm":
            continue
        field = "tts_type" if row.kind == "tts" else "stt_type"
        try:
            AIBody(name="a", engine_model="rules.appointments", **{field: row.name})
            accepted = True
        except ValidationError as exc:
            accepted = False
            assert field in str(exc)
        assert accepted == (row.status == "available"), row
        checked += 1
    assert checked == len(STT.known()) + len(TTS.known())
    assert any(r.name == "cartesia" and r.status == "available" for r in rows())


def test_llm_rows_are_judged_like_an_ai_without_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    row = next(r for r in rows() if (r.kind, r.name) == ("llm", "anthropic"))
    assert row.status == "needs setup" and "ANTHROPIC_API_KEY" in row.reason
    assert LLM.check("anthropic.claude-sonnet-4-5", api_key="sk-ant-1").available  # an AI's engine_key


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_probe_says_whether_the_configured_server_answers() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        up = Row("stt", "deepgram", "available", base_url=f"http://127.0.0.1:{port}")
        down = Row("stt", "deepgram", "available", base_url=f"http://127.0.0.1:{closed_port()}")
        unset = Row("stt", "deepgram", "needs setup", "no key")
        assert (await probe(up, {})).reachable is True
        assert (await probe(down, {})).reachable is False
        assert (await probe(unset, {})).reachable is None  # only what could be used is probed
    finally:
        server.close()
        await server.wait_closed()
