"""Azure Speech recognition (REST for short audio, streamed per turn) against the local fake: the turn uploaded
while it is spoken, the language, statuses and region, then the HTTP recogniser contract."""
from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from flowengine.bench.fakes.azure_stt import CONTENT_TYPE, PATH, FakeAzureSTT
from flowengine.bench.fakes.server import Faults, Recorded, tone
from flowengine.providers.catalogue import STT
from flowengine.providers.stt.azure import AzureSTT
from flowengine.providers.stt.base import STTError
from tests.providers.stt.http_contract import FRAME, SCRIPT, HttpRecogniserContract, SpeechAccess, speak, turn
from tests.support import eventually


class TestAzureRecognition(HttpRecogniserContract):
    vendor = "azure"
    fake_class = FakeAzureSTT
    access_fields: ClassVar[dict[str, str]] = {"region": "westeurope"}
    garbage_error = "not a recognition result"

    def turn_bytes(self, entry: Recorded) -> int:
        return entry.audio_bytes

    async def test_a_turn_goes_out_while_it_is_spoken_and_its_text_comes_back(
            self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, stt):
            stream = await stt.open_stream()
            pcm = turn()
            await speak(stream, pcm[:8000])
            # the request is open and carries audio before the turn ends
            await eventually(lambda: bool(fake.requests) and fake.requests[0].audio_bytes > 0, 5,
                             "audio at the fake")
            await speak(stream, pcm[8000:])
            result = await stream.finalize()
            await stream.aclose()
        assert result.text == SCRIPT[0] and result.confidence == pytest.approx(0.93)
        assert result.audio_ms == 1000 and stream.sent_ms == 1000 and stream.interim == ""
        sent = fake.requests[0]
        assert sent.path == PATH and sent.query == {"language": "en-US", "format": "detailed"}
        assert sent.headers["Ocp-Apim-Subscription-Key"] == "test-key"
        assert sent.headers["Content-Type"] == CONTENT_TYPE and sent.headers["Transfer-Encoding"] == "chunked"
        assert {k: sent.body[k] for k in ("format", "channels", "rate", "bits")} == {
            "format": 1, "channels": 1, "rate": 16000, "bits": 16}
        assert sent.body["data_size"] == 0xFFFFFFFF  # open-ended: the length is not known when the turn starts
        assert sent.audio_bytes == pcm.size * 2 and len(sent.messages) > 2  # many pieces, not one upload
        assert not sent.closed_by_client

    async def test_each_turn_is_one_request_in_the_streams_language(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, stt):
            stream = await stt.open_stream(language="de-DE", keywords=("Zahnreinigung",))
            texts = []
            for _ in range(2):
                await speak(stream, turn())
                texts.append((await stream.finalize()).text)
            assert (await stream.finalize()).text == ""  # nothing sent since: no request
            await stream.aclose()
        assert texts == list(SCRIPT)
        assert [r.query["language"] for r in fake.requests] == ["de-DE", "de-DE"]

    def test_the_region_names_the_host_unless_a_base_url_is_set(self, speech_access: SpeechAccess) -> None:
        speech_access("azure", api_key="azure-test-key-0123456789", region="westeurope")
        stt = STT.create("azure")
        assert isinstance(stt, AzureSTT)
        assert stt.endpoint() == f"https://westeurope.stt.speech.microsoft.com{PATH}"
        assert "azure-test-key-0123456789" not in repr(stt)

    async def test_a_refused_key_surfaces_on_the_next_frame(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, api_key="wrong-key-0123456789") as (fake, stt):
            stream = await stt.open_stream()
            await stream.send(tone(0.02, 16000))
            await eventually(lambda: bool(fake.requests), 5, "the request")
            with pytest.raises(STTError, match="refused the API key"):
                for _ in range(500):  # 10 s of frames at most: the refusal arrives long before
                    await stream.send(tone(0.02, 16000))
                    await asyncio.sleep(0.02)
            await stream.aclose()
        assert len(fake.requests) == 1

    async def test_a_request_dropped_mid_turn_is_retried_with_the_audio_sent_so_far(
            self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, Faults(drop_after=3)) as (fake, stt):
            stream = await stt.open_stream()
            pcm = turn()
            for start in range(0, pcm.size, FRAME):  # paced like a call, so the drop happens mid-turn
                await stream.send(pcm[start:start + FRAME])
                await asyncio.sleep(0.005)
            assert (await stream.finalize()).text == SCRIPT[0]
            await stream.aclose()
        first, second = fake.requests
        assert first.audio_bytes < pcm.size * 2 and not first.closed_by_client  # the fake broke it mid-turn
        assert second.audio_bytes == pcm.size * 2

    async def test_recognition_statuses(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, stt):
            fake.status = "NoMatch"
            assert (await stt.transcribe(turn())).text == ""
            fake.status = "Error"
            with pytest.raises(STTError, match="RecognitionStatus Error"):
                await stt.transcribe(turn())
        assert len(fake.requests) == 2  # an answer, even a failed one, is not retried

    async def test_aclose_mid_turn_aborts_the_request(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, stt):
            stream = await stt.open_stream()
            await speak(stream, turn()[:8000])
            await eventually(lambda: bool(fake.requests) and fake.requests[0].audio_bytes > 0, 5,
                             "audio at the fake")
            await stream.aclose()
            await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
            with pytest.raises(STTError, match="closed"):
                await stream.send(tone(0.02, 16000))
