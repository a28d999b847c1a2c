"""Vapi /call on the real private Asterisk: what cannot run is refused naming its field before anything is dialled
(no channel is ever created), whether it is wrong in the body or became unrunnable since it was stored."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.frontdoor_harness import Running, running_engine
from tests.conftest import Asterisk

MODEL = {"provider": "openai", "model": "gpt-4o",
         "messages": [{"role": "system", "content": "You are a short-spoken receptionist."}]}
VOICE = {"provider": "espeak"}
GONE = "3f1c9a7e-2b4d-4e8f-9a6c-1d2e3f4a5b6c"


async def refused(http: httpx.AsyncClient, run: Running, asterisk: Asterisk, body: dict[str, Any],
                  field: str) -> str:
    """POSTs the call, expects a 400 naming `field`, and checks nothing was dialled nor stored."""
    reply = await http.post("/call", headers=run.headers(), json={**body, "customer": {"number": "hello3"}})
    assert reply.status_code == 400 and reply.json()["error"]["field"] == field, reply.text
    assert asterisk.channels() == []  # no originate reached Asterisk
    assert (await http.get("/call", headers=run.headers())).json() == []
    message: str = reply.json()["error"]["message"]
    return message


@pytest.mark.asterisk
async def test_what_cannot_run_is_refused_before_any_channel_is_created(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(asterisk, tmp_path, monkeypatch) as run, \
            httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
        squad = {"members": [
            {"assistant": {"name": "Riley", "model": MODEL, "voice": VOICE}},
            {"assistant": {"name": "Sam", "model": MODEL, "voice": {"provider": "11labs", "voiceId": "x"},
                           "transcriber": {"provider": "deepgram"}}}]}
        message = await refused(http, run, asterisk, {"squad": squad}, "squad.members[1].assistant.voice.provider")
        assert "squad.members[1].assistant.transcriber.provider: 'deepgram' is not available" in message
        squad["members"][1]["assistant"] = {"name": "Sam", "model": MODEL, "transcriber": {"language": "de"}}
        await refused(http, run, asterisk, {"squad": squad}, "squad.members[1].assistant.transcriber.language")
        assert "not found" in await refused(http, run, asterisk, {"squadId": GONE}, "squadId")
        assert "not found" in await refused(http, run, asterisk, {"assistantId": GONE}, "assistantId")

        saved = await http.post("/v1.0/ais", headers=run.headers(), json={
            "name": "receptionist", "engine_model": "openai.gpt-4o", "tts_type": "espeak", "stt_type": "whisper"})
        assert saved.status_code == 200, saved.text
        monkeypatch.delenv("OPENAI_API_KEY")  # the stored AI can no longer run: its model has no key
        message = await refused(http, run, asterisk, {"assistantId": saved.json()["id"]}, "assistantId")
        assert "engine_model 'openai.gpt-4o' is not available: no API key for openai" in message
        transient = {"name": "caller", "model": MODEL, "voice": VOICE}
        await refused(http, run, asterisk, {"assistant": transient}, "assistant.model.provider")
        assert run.llm.requests == []
