"""Options of the call-control actions: hangup, talk, play, digits, sleep, echo, amd, recording, external media."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from flowengine.flow.options.common import OptionModel

Direction = Literal["", "both", "in", "out"]


class HangupOptions(OptionModel):
    reason: str = Field("", description="Hangup reason; empty means 'normal'.")
    reference_id: str = Field(
        "", description="Hang up with the same reason as this other call (overrides reason)."
    )


class TalkOptions(OptionModel):
    text: str = Field(description="Text to speak, plain or SSML.")
    language: str = Field("", description="IETF language tag, e.g. en-US.")
    provider: Literal["", "gcp", "aws"] = Field(
        "", description="VoIPBIN TTS provider; flowengine speaks with its configured TTS."
    )
    voice_id: str = Field("", description="Voice of the TTS provider.")
    gender: Literal["", "male", "female", "neutral"] = Field("", description="Voice gender hint.")
    digits_handle: Literal["", "next"] = Field(
        "", description="'next': a DTMF digit stops the speech and moves on."
    )
    async_: bool = Field(False, alias="async", description="Move on without waiting for the end.")


class PlayOptions(OptionModel):
    stream_urls: list[str] = Field(
        min_length=1, description="Media URLs (http/https) or Asterisk 'sound:' names, played in order."
    )


class DigitsReceiveOptions(OptionModel):
    duration: int = Field(0, ge=0, description="How long to wait for digits, in ms.")
    key: str = Field("", description="Terminator characters: any of them ends the input.")
    length: int = Field(0, ge=0, description="Number of digits that ends the input (0: no limit).")


class DigitsSendOptions(OptionModel):
    digits: str = Field(
        max_length=100, pattern=r"^[0-9A-D#*]*$", description="DTMF to send: 0-9, A-D, #, *."
    )
    duration: int | None = Field(None, ge=100, le=1000, description="Tone length per digit, ms.")
    interval: int | None = Field(None, ge=0, le=5000, description="Pause between digits, ms.")


class SleepOptions(OptionModel):
    duration: int = Field(ge=0, description="How long to wait, in ms.")


class EchoOptions(OptionModel):
    duration: int = Field(180000, ge=0, description="Echo duration in ms.")


class AmdOptions(OptionModel):
    machine_handle: Literal["", "hangup", "continue"] = Field(
        "", description="'hangup' hangs up when a machine answers; otherwise the flow goes on."
    )
    async_: bool = Field(False, alias="async", description="Move on without waiting for the result.")


class RecordingStartOptions(OptionModel):
    format: Literal["", "wav", "mp3", "ogg"] = Field("", description="File format (default wav).")
    end_of_silence: int = Field(0, ge=0, description="Stop after this many seconds of silence (0: never).")
    end_of_key: Literal["", "none", "any", "*", "#"] = Field("", description="DTMF that stops recording.")
    duration: int = Field(0, ge=0, description="Maximum length in seconds (0: no limit).")
    beep_start: bool = Field(False, description="Beep when recording starts.")
    on_end_flow_id: str = Field("", description="Flow run when the recording ends.")


class ExternalMediaStartOptions(OptionModel):
    external_host: str = Field(description="host:port of the media server.")
    encapsulation: Literal["", "rtp", "audiosocket", "none"] = Field("rtp")
    transport: Literal["", "udp", "tcp", "websocket"] = Field("udp")
    transport_data: str = Field("", description="Transport-specific data (websocket dial string).")
    connection_type: Literal["", "client", "server"] = Field("client")
    format: str = Field("ulaw", description="Asterisk format name, e.g. ulaw, slin16.")
    direction: Direction = Field("", description="Both directions at once (OpenAPI name).")
    direction_listen: Direction = Field("", description="Audio sent to the media server.")
    direction_speak: Direction = Field("", description="Audio accepted from the media server.")
    data: str = Field("", description="Opaque data passed to the media server.")
