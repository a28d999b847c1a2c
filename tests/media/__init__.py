"""Unit tests of the audio engine (flowengine.media)."""
