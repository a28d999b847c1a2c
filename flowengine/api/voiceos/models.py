"""VoiceOS request bodies (from its published SDK 0.8 and the create-call seed): agent configuration and create call.

Ranges and enums are VoiceOS's; values out of range are 422s naming the field. Which providers the engine
can run is decided in flowengine.api.voiceos.agents (refused by name there, also as 422)."""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EventName = Literal[
    "phone_call:connection_requested", "phone_call:rejected", "phone_call:accepted", "function_call:triggered",
    "conversation:started", "conversation:ended", "conversation:duration", "speech:started", "speech:ended",
    "message:sent", "message:generated"]
EVENTS: tuple[str, ...] = EventName.__args__  # type: ignore[attr-defined]
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AzureVoice(_Strict):
    provider: Literal["azure"] = "azure"
    model: str | None = None
    pitch: int = Field(0, ge=-20, le=20)
    rate: int = Field(0, ge=-50, le=50)


class DeepgramVoice(_Strict):
    provider: Literal["deepgram"] = "deepgram"
    model: str | None = None


class ElevenlabsVoice(_Strict):
    provider: Literal["elevenlabs"] = "elevenlabs"
    voice_id: str | None = None
    model_id: Literal["eleven_multilingual_v2", "eleven_monolingual_v1", "eleven_turbo_v2"] | None = None
    optimize_latency: int = Field(3, ge=0, le=4)
    use_speaker_boost: bool = False
    similarity_boost: float = Field(0.5, ge=0, le=1)
    stability: float = Field(0.5, ge=0, le=1)


class PlayhtVoice(_Strict):
    provider: Literal["playht"] = "playht"
    model: str | None = None
    speed: float = Field(1.0, gt=0, le=5)
    temperature: float | None = Field(None, ge=0, le=2)
    text_guidance: float | None = Field(None, ge=1, le=2)
    style_guidance: float | None = Field(None, ge=1, le=30)
    emotion: str | None = None
    voice_guidance: float | None = Field(None, ge=1, le=6)


class RimeVoice(_Strict):
    provider: Literal["rime"] = "rime"
    speaker: str | None = None
    speed_alpha: float = Field(1.0, ge=0.5, le=2)
    reduce_latency: bool = False


class EngineVoice(_Strict):
    """flowengine's own offline voices (an extension: VoiceOS has no such provider)."""

    provider: Literal["piper", "espeak"]
    voice_id: str = ""


Voice = Annotated[AzureVoice | DeepgramVoice | ElevenlabsVoice | PlayhtVoice | RimeVoice | EngineVoice,
                  Field(discriminator="provider")]


class DeepgramTranscriber(_Strict):
    provider: Literal["deepgram"] = "deepgram"
    model: str | None = None
    language: str | None = None
    keywords: list[str] | None = None


class AzureTranscriber(_Strict):
    provider: Literal["azure"] = "azure"
    languages: list[str] | None = None


class EngineTranscriber(_Strict):
    """flowengine's offline recogniser (an extension)."""

    provider: Literal["whisper"]
    language: str = ""


Transcriber = Annotated[DeepgramTranscriber | AzureTranscriber | EngineTranscriber, Field(discriminator="provider")]


class FunctionDef(_Strict):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _FUNCTION_NAME.match(value):
            raise ValueError("must be less than 64 characters of a-z, A-Z, 0-9 and underscores")
        return value


class OpenAITool(_Strict):
    type: Literal["function"] = "function"
    function: FunctionDef


class LanguageModel(_Strict):
    provider: Literal["openai"] = "openai"
    credential_id: str | None = None
    model: str = "gpt-4o"
    temperature: float = Field(0, ge=0, le=2)
    max_tokens: int = Field(300, ge=1, le=16384)
    tools: list[OpenAITool] | None = None


class Webhook(_Strict):
    events: list[EventName] = Field(min_length=1)
    url: str = Field(pattern=r"^https?://", max_length=2048)
    method: Literal["GET", "POST"]
    headers: dict[str, str] | None = None
    filter: str | None = Field(None, max_length=1000)


class AgentConfig(_Strict):
    initial_message: str | None = Field(None, max_length=10_000)
    prompt: str | None = Field(None, max_length=100_000)
    voice: Voice | None = None
    language_model: LanguageModel | None = None
    transcriber: Transcriber | None = None
    max_duration_seconds: int | None = Field(600, ge=1, le=43200)
    webhooks: list[Webhook] | None = Field(None, max_length=50)
    metadata: dict[str, str] | None = None
    hooks: list[dict[str, Any]] | None = None


class UpdateAgent(AgentConfig):
    pass


class CreateCall(_Strict):
    from_number: str = Field(min_length=1, max_length=64)
    to_number: str = Field(min_length=1, max_length=64)
    agent_id: str | None = None
    agent_config: AgentConfig | None = None
