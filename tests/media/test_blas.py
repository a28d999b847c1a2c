"""numpy's OpenBLAS is set to one thread at run time (its idle helpers spin on cores inference needs), and loading
the offline recogniser does it."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from flowengine.media.blas import blas_threads, limit_blas_threads, loaded_openblas


@pytest.fixture
def restored_blas() -> Iterator[None]:
    before = max(blas_threads().values(), default=1)
    yield
    limit_blas_threads(before)


def test_numpys_openblas_is_found_and_set_to_one_thread(restored_blas: None) -> None:
    assert any("openblas" in path for path in loaded_openblas()), "numpy's OpenBLAS is loaded with numpy"
    limit_blas_threads(2)
    assert set(blas_threads().values()) == {2}
    assert limit_blas_threads(1) >= 1
    assert set(blas_threads().values()) == {1}
    product = np.ones((80, 201), dtype=np.float32) @ np.ones((201, 1280), dtype=np.float32)
    assert float(product[0, 0]) == 201.0  # still computes


def test_loading_whisper_limits_blas_to_one_thread(restored_blas: None) -> None:
    from flowengine.providers.stt.whisper import WhisperSTT

    limit_blas_threads(2)
    stt = WhisperSTT(cpu_threads=1, workers=1)  # settings of its own: this loads a model
    WhisperSTT._engines.pop(stt._key(), None)
    try:
        stt._engine()
        assert set(blas_threads().values()) == {1}
    finally:
        engine = WhisperSTT._engines.pop(stt._key(), None)
        if engine is not None:
            engine.pool.shutdown()


def test_no_maps_no_libraries() -> None:
    assert loaded_openblas(maps="/nonexistent/maps") == []
