"""AWS Polly voices over its REST API (SynthesizeSpeech, SigV4-signed): 8 kHz 16-bit PCM decoded as it streams."""
from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import numpy as np

from flowengine.providers import aws, credentials
from flowengine.providers.cloud import TransientError, raise_for_answer
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks

PATH = "/v1/speech"
SERVICE = "polly"
# pcm at 8000: headerless s16le every Polly engine has offered since the start (mulaw/alaw are later additions
# whose engine coverage is not confirmed here), already the telephony rate; its lossless bytes cost nothing.
OUTPUT_FORMAT, SAMPLE_RATE = "pcm", "8000"
ENGINE = "neural"  # the default voice Joanna has it; a standard-only voice is refused by Polly, with its reason
NOT_AUDIO = ("text/", "application/json", "application/x-amz-json", "application/xml")


@TTS_PROVIDERS.register("aws", ready=credentials.ready_for("aws"))
class PollyTTS(CloudTTS):
    """Needs speech.providers.aws api_key (the access key id), secret and region; base_url replaces the
    regional host. The session token of temporary credentials comes from AWS_SESSION_TOKEN when the key id is
    the environment's too."""

    vendor = "aws"
    name = "aws"
    default_voice = "Joanna"
    sample_rate = 8000

    def __repr__(self) -> str:  # never the keys
        return f"PollyTTS({self.endpoint()})"

    def endpoint(self) -> str:
        return self.url(f"https://polly.{self.access.region}.amazonaws.com", PATH)

    def _credentials(self) -> aws.Credentials:
        token = os.environ.get("AWS_SESSION_TOKEN", "")
        same = self.access.api_key == os.environ.get("AWS_ACCESS_KEY_ID")
        return aws.Credentials(self.access.api_key, self.access.secret, token if same else "")

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        body = json.dumps({"Text": text, "VoiceId": voice, "OutputFormat": OUTPUT_FORMAT, "SampleRate": SAMPLE_RATE,
                           "Engine": ENGINE, "TextType": "text"}).encode()
        headers = aws.sign("POST", self.endpoint(), {"Content-Type": "application/json"}, body,
                           credentials=self._credentials(), service=SERVICE, region=self.access.region)
        async with self.http.post(self.endpoint(), data=body, headers=headers) as response:
            await raise_for_answer(response, "aws")
            kind = response.headers.get("Content-Type", "")
            if kind.startswith(NOT_AUDIO):
                raise TTSError(f"aws answered {kind} instead of audio: {(await response.read())[:80]!r}")
            decoder = PcmChunks("s16le")
            got = 0
            async for data in response.content.iter_any():
                got += len(data)
                yield decoder.push(data)
        if not got:
            raise TransientError("aws answered no audio")
