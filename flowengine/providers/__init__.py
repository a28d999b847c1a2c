"""STT, LLM and TTS providers behind small base classes and a name registry."""
