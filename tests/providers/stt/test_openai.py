"""OpenAI transcription through the `openai` client against the local fake: a turn buffered, sent as one WAV (its
shape, the model, a dropped connection), then the HTTP recogniser contract."""
from __future__ import annotations

import numpy as np

from flowengine.bench.fakes.openai_stt import FakeOpenAISTT
from flowengine.bench.fakes.server import Faults, Recorded
from flowengine.providers.stt.openai import DEFAULT_MODEL, OpenAISTT
from tests.providers.stt.http_contract import FRAME, SCRIPT, HttpRecogniserContract, SpeechAccess, turn


class TestOpenAIRecognition(HttpRecogniserContract):
    vendor = "openai"
    fake_class = FakeOpenAISTT
    refused_key_error = r"refused the API key.*HTTP 401.*invalid_api_key"
    server_error = r"after 2 attempts: openai answered HTTP 500"
    unreachable_error = r"after 2 attempts: cannot reach openai"
    garbage_error = "not JSON"
    hang_error = r"after 2 attempts: openai did not answer within 0.3 s"
    timeout_setting = "flowengine.providers.openai_speech.TIMEOUT_S"

    def turn_bytes(self, entry: Recorded) -> int:
        return int(entry.body["wav"]["frames"] * entry.body["wav"]["width"])

    def base_url_at(self, server: str) -> str:
        return server + "/v1"

    async def test_a_streamed_turn_is_one_wav_and_its_text_comes_back(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, stt):
            assert "test-key" not in repr(stt)
            stream = await stt.open_stream(language="en-US", keywords=("cleaning", "Dr. Smith"))
            pcm = turn()
            for start in range(0, pcm.size, FRAME):
                await stream.send(pcm[start:start + FRAME])
            assert not fake.requests  # buffered: the HTTP API takes a whole file
            result = await stream.finalize()
            assert result.text == SCRIPT[0] and result.audio_ms == 1000 and stream.sent_ms == 1000
            assert (await stream.finalize()).text == "" and len(fake.requests) == 1  # nothing since: no request
            await stream.aclose()
        sent = fake.requests[0]
        assert sent.path == "/v1/audio/transcriptions" and sent.headers["Authorization"] == "Bearer test-key"
        assert sent.headers["Content-Type"].startswith("multipart/form-data")
        assert sent.body["model"] == DEFAULT_MODEL == "whisper-1" and sent.body["response_format"] == "json"
        assert sent.body["language"] == "en" and sent.body["prompt"] == "cleaning, Dr. Smith"
        assert sent.body["filename"] == "turn.wav"
        assert sent.body["wav"] == {"channels": 1, "width": 2, "rate": 16000, "frames": pcm.size}

    async def test_silence_between_turns_does_not_use_up_a_line(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, stt):
            assert (await stt.transcribe(turn())).text == SCRIPT[0]
            assert (await stt.transcribe(np.zeros(16000, dtype=np.int16))).text == ""  # silence heard as nothing
            assert (await stt.transcribe(turn())).text == SCRIPT[1]
        assert "language" not in fake.requests[0].body and "prompt" not in fake.requests[0].body

    async def test_the_model_can_be_named(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, model="gpt-4o-transcribe") as (fake, stt):
            assert isinstance(stt, OpenAISTT)
            await stt.transcribe(turn())
        assert fake.requests[0].body["model"] == "gpt-4o-transcribe"

    async def test_a_dropped_connection_is_retried(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, Faults(drop_after=0, drop_times=1)) as (fake, stt):
            assert (await stt.transcribe(turn())).text == SCRIPT[0]
        assert len(fake.requests) == 2
