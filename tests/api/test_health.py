"""/health of a running engine: an ARI application taken over by another WebSocket is reported at once (503 with the
reason, an ERROR log line)."""
from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from flowengine.asterisk.ari.client import AriClient
from flowengine.config import ApiConfig, AsteriskConfig, Config, SpeechConfig, StoreConfig
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import generate_secret_key
from tests.conftest import Asterisk
from tests.support import eventually


async def test_an_app_taken_over_makes_the_engine_unhealthy_at_once(
        asterisk: Asterisk, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "flows").mkdir()
    app = "health-takeover"
    config = Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(update={"app": app}),
        api=ApiConfig(enabled=True, port=0),
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", secret_key=SecretStr(generate_secret_key())),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        flows_dir=str(tmp_path / "flows"))
    engine = Engine(config)
    await engine.start()
    i = asterisk.info
    intruder = AriClient(i.ari_url, i.ari_username, i.ari_password, app)  # not a node: nothing in the store stops it
    try:
        assert engine.api is not None and engine.ari is not None
        ari = engine.ari
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}") as http:
            healthy = await http.get("/health")
            assert healthy.status_code == 200 and healthy.json()["problems"] == []
            with caplog.at_level(logging.ERROR, logger="flowengine.asterisk.ari.client"):
                await intruder.start()
                await eventually(lambda: ari.replaced, timeout=5, what="the takeover noticed")
            assert any(r.levelno == logging.ERROR and "another WebSocket took over the ARI application "
                       f"'{app}'" in r.getMessage() for r in caplog.records)
            taken = await http.get("/health")
            assert taken.status_code == 503
            assert taken.json() == {"status": "degraded", "store": "ok", "asterisk": "taken over",
                                    "problems": [f"ARI application '{app}' taken over by another WebSocket"]}
    finally:
        await intruder.aclose()
        await engine.aclose()
