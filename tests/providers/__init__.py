"""Tests of the STT, LLM and TTS providers (flowengine.providers)."""
