"""The provider names users write (VoIPBIN `stt_type`/`tts_type`/`engine_model`, Vapi and VoiceOS providers),
with a label, the other spellings the front doors use, and why this engine cannot run the ones it cannot.

A name here is *known*; whether it runs is decided by the registries (a module registered under the name),
so adding a cloud provider is its module and its registration: its line here already exists or is optional."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vendor:
    name: str  # the engine's name: what registries and stored AIs use
    label: str  # what it is, for messages ("Deepgram speech recognition")
    aliases: tuple[str, ...] = ()  # the same vendor as another front door spells it (Vapi's `11labs`)
    reason: str = ""  # why this engine refuses it, when there is more to say than "no provider here"


STT_VENDORS: tuple[Vendor, ...] = (
    Vendor("whisper", "the offline Whisper recogniser (faster-whisper)", ("faster-whisper",)),
    # VoIPBIN's stt_type values (seed 001), then VoiceOS's and Vapi's transcribers
    Vendor("deepgram", "Deepgram speech recognition"),
    Vendor("cartesia", "Cartesia speech recognition"),
    Vendor("elevenlabs", "ElevenLabs speech recognition", ("11labs",)),
    Vendor("google", "Google speech recognition"),
    Vendor("azure", "Azure speech recognition"),
    Vendor("openai", "OpenAI speech recognition"),
    Vendor("assemblyai", "AssemblyAI speech recognition", ("assembly-ai",)),
    Vendor("gladia", "Gladia speech recognition"),
    Vendor("speechmatics", "Speechmatics speech recognition"),
    Vendor("talkscriber", "Talkscriber speech recognition"),
)

TTS_VENDORS: tuple[Vendor, ...] = (
    Vendor("piper", "the offline neural voice (piper)"),
    Vendor("espeak", "the offline espeak-ng voice"),
    # VoIPBIN's tts_type values (seed 001), then VoiceOS's and Vapi's voice providers
    Vendor("elevenlabs", "ElevenLabs voices", ("11labs",)),
    Vendor("deepgram", "Deepgram Aura voices"),
    Vendor("openai", "OpenAI voices"),
    Vendor("aws", "AWS Polly voices"),
    Vendor("azure", "Azure voices"),
    Vendor("google", "Google Cloud voices"),
    Vendor("cartesia", "Cartesia voices"),
    Vendor("hume", "Hume voices"),
    Vendor("playht", "PlayHT voices"),
    Vendor("rime", "Rime voices", ("rimeai", "rime-ai")),
    Vendor("lmnt", "LMNT voices"),
)

LLM_VENDORS: tuple[Vendor, ...] = (
    Vendor("rules", "the offline rule-based dialog engine (not a language model)"),
    # the OpenAI-compatible providers run through providers/llm/openai_compat.py; listed here for Vapi's spellings
    Vendor("deepseek", "DeepSeek", ("deep-seek",)),
    Vendor("grok", "xAI Grok", ("xai",)),
    Vendor("perplexity", "Perplexity", ("perplexity-ai",)),
    Vendor("together", "Together AI", ("together-ai",)),
    # seed 001 providers with an API of their own: providers/llm/anthropic.py, bedrock.py, azure.py
    Vendor("anthropic", "Anthropic"),
    Vendor("aws", "AWS Bedrock"),
    Vendor("azure", "Azure OpenAI", ("azure-openai",)),
    # a seed 001 provider this engine refuses, with what to do instead: never a silent fallback to another model
    Vendor("dialogflow", "Dialogflow", reason=(
        "dialogflow is not supported here: it is an intent engine (CX/ES agents), not a chat model API; use an "
        "OpenAI-compatible provider, or rules.<name> for offline intents")),
)
