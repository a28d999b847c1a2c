"""`flowengine doctor` against the private Asterisk: all green with a running engine, and each failure provoked
(wrong ARI password, no engine on the app, store not migrated, a provider key missing) named with its fix."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisStart
from flowengine.asterisk.ari.rest import AriRest
from flowengine.asterisk.instance import free_port
from flowengine.cli.main import main
from flowengine.config import AsteriskConfig, Config, SpeechConfig, StoreConfig
from flowengine.doctor.asterisk import PROBE_CONTEXT, PROBE_EXTEN, AriTarget, check_ari
from flowengine.doctor.run import diagnose
from flowengine.runtime import Engine, asterisk_config_for
from tests.conftest import Asterisk

pytestmark = pytest.mark.asterisk

FLOW = "id: main\nname: main\nactions:\n  - type: answer\n"
AI_FILE = "engine_model: rules.appointments\ninit_prompt: Book appointments.\n"


def deployment(asterisk: Asterisk, tmp_path: Path, app: str) -> Config:
    """What an operator's config says: this Asterisk, a SQLite store, a fixed speech port, flows with an AI."""
    flows = tmp_path / "flows"
    (flows / "ais").mkdir(parents=True, exist_ok=True)
    (flows / "main.yaml").write_text(FLOW)
    (flows / "ais" / "receptionist.yaml").write_text(AI_FILE)
    return Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(update={"app": app}),
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}"),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False,
                            http_port=free_port("127.0.0.1")),
        flows_dir=str(flows),
    )


@pytest.fixture
async def engine(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Engine]:
    running = Engine(deployment(asterisk, tmp_path, "doctor-green"))
    await running.start()
    try:
        yield running
    finally:
        await running.aclose()


async def test_a_running_deployment_is_all_green(engine: Engine, asterisk: Asterisk, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = await diagnose(engine.config)
    checks = report.by_name()
    assert [c.name for c in report.checks] == ["ari", "app", "rtp", "speech_http", "store", "providers"]
    assert report.ok, report.lines()
    assert all(c.status == "ok" and not c.fix for c in report.checks)
    assert "'doctor-green' is held" in checks["app"].detail
    assert "the engine's speech server" in checks["speech_http"].detail
    assert "1 AI file(s)" in checks["providers"].detail
    packets = int(checks["rtp"].detail.split()[0])
    assert packets >= 10
    # the command, as an operator runs it: the same deployment from a YAML file, exit 0, one line per check
    config, info = engine.config, asterisk.info
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump({
        "asterisk": {"ari_url": info.ari_url, "ari_username": info.ari_username, "ari_password": info.ari_password,
                     "app": config.asterisk.app},
        "store": {"url": config.store.url}, "flows_dir": config.flows_dir,
        "speech": {"tts": "espeak", "http_port": config.speech.http_port}}))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["doctor", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["OK", n] for n in ("config", *checks)]
    assert lines[-1] == "all checks passed" and info.ari_password not in "".join(lines)

    await engine.aclose()  # an engine that stopped no longer holds its app
    target = AriTarget.from_config(engine.config.asterisk)
    assert isinstance(target, AriTarget)
    ari, app = await check_ari(target)
    assert ari.status == "ok" and app.status == "failed" and "flowengine serve" in app.fix


async def test_a_wrong_ari_password_is_named_with_its_fix(asterisk: Asterisk, tmp_path: Path) -> None:
    config = deployment(asterisk, tmp_path, "doctor-pw")
    config = config.model_copy(update={"asterisk": config.asterisk.model_copy(
        update={"ari_password": SecretStr("not-the-password")})})
    checks = (await diagnose(config)).by_name()
    assert checks["ari"].status == "failed" and "refused ARI user 'flowengine' (401)" in checks["ari"].detail
    assert "ari.conf" in checks["ari"].fix and "render-conf" in checks["ari"].fix
    assert {checks[n].status for n in ("app", "rtp", "speech_http")} == {"skipped"}


async def test_no_engine_and_an_unmigrated_store_are_named(asterisk: Asterisk, tmp_path: Path) -> None:
    config = deployment(asterisk, tmp_path, "doctor-none")
    sqlite3.connect(tmp_path / "engine.db").close()  # a database nobody migrated
    report = await diagnose(config)
    checks = report.by_name()
    assert not report.ok
    assert checks["app"].status == "failed" and "no engine holds ARI app 'doctor-none'" in checks["app"].detail
    assert checks["store"].status == "failed"
    assert "schema version 0" in checks["store"].detail and "not migrated" in checks["store"].detail
    assert "flowengine serve" in checks["store"].fix
    # what does not depend on the engine still passes: Asterisk reaches this host
    assert checks["rtp"].status == "ok" and checks["speech_http"].status == "ok"
    assert "probe server of the doctor's own" in checks["speech_http"].detail


async def test_an_app_closed_with_a_call_still_ending_is_not_taken_for_held(asterisk: Asterisk) -> None:
    """Asterisk keeps listing an app whose WebSocket closed while a channel of it was still up, until the channel
    is gone and some app unregisters (CI once saw the doctor call such an app held): the doctor sweeps again over
    a second, so a call that ends just after its engine closed is not taken for an engine."""
    info = asterisk.info
    rest = AriRest(info.ari_url, info.ari_username, info.ari_password)
    target = AriTarget(info.ari_url, info.ari_username, info.ari_password, "doctor-closing")
    try:
        async with AriClient(info.ari_url, info.ari_username, info.ari_password, target.app) as ari:
            events = ari.events()
            leg = await ari.channels.originate(f"Local/{PROBE_EXTEN}@{PROBE_CONTEXT}")
            await events.wait_for(StasisStart, timeout=10)
            events.close()
        # the app's WebSocket is closed with its channel still in it; the channel ends 0.3 s into the check
        async def end_later() -> None:
            await asyncio.sleep(0.3)
            await rest.delete(f"/channels/{leg.id}")

        ending = asyncio.create_task(end_later())
        checks = {c.name: c for c in await check_ari(target)}
        await ending
        assert checks["app"].status == "failed", checks["app"].detail
    finally:
        await rest.aclose()


async def test_addresses_asterisk_cannot_reach_fail_rtp_and_speech(asterisk: Asterisk, tmp_path: Path) -> None:
    """The engine listens on 127.0.0.1 but tells Asterisk another address: nothing arrives, and the fix names it."""
    config = deployment(asterisk, tmp_path, "doctor-nat")
    config = config.model_copy(update={
        "media": config.media.model_copy(update={"advertise_host": "127.0.0.3"}),
        "speech": config.speech.model_copy(update={"advertise_host": "127.0.0.3"})})
    checks = (await diagnose(config, listen_s=0.5)).by_name()
    assert checks["rtp"].status == "failed" and checks["rtp"].detail.startswith("0 RTP packets")
    assert "media.advertise_host" in checks["rtp"].fix and "'127.0.0.3'" in checks["rtp"].fix
    assert checks["speech_http"].status == "failed" and "could not fetch http://127.0.0.3:" in checks["speech_http"].detail
    assert "speech.advertise_host" in checks["speech_http"].fix


async def test_a_missing_provider_key_is_named(asterisk: Asterisk, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY", "ELEVEN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = deployment(asterisk, tmp_path, "doctor-keys")
    ais = Path(config.flows_dir) / "ais"
    (ais / "sales.yaml").write_text("engine_model: openai.gpt-4o-mini\ninit_prompt: Sell.\n")
    (ais / "voice.yaml").write_text("engine_model: rules.appointments\ntts_type: elevenlabs\n")
    check = (await diagnose(config)).by_name()["providers"]
    assert check.status == "failed"
    assert f"{ais / 'sales.yaml'}: engine_model 'openai.gpt-4o-mini' is not available" in check.detail
    assert "OPENAI_API_KEY" in check.detail
    assert f"{ais / 'voice.yaml'}" in check.detail and "ELEVENLABS_API_KEY" in check.detail
    assert "receptionist" not in check.detail  # the AI whose providers are all here is not blamed
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ELEVENLABS_API_KEY", "el-test")
    assert (await diagnose(config)).by_name()["providers"].status == "ok"


def test_cli_prints_json_exits_1_and_never_the_password(asterisk: Asterisk, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    info = asterisk.info
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump({
        "asterisk": {"ari_url": info.ari_url, "ari_username": info.ari_username, "ari_password": info.ari_password,
                     "app": "doctor-cli"},
        "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"},
        "flows_dir": str(tmp_path / "flows"),
    }))
    assert main(["doctor", "--config", str(path), "--json"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["ok"] is False
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == {"config": "ok", "ari": "ok", "app": "failed", "rtp": "ok", "speech_http": "ok",
                        "store": "failed", "providers": "ok"}
    assert info.ari_password not in out
    assert not (tmp_path / "none.db").exists()  # the doctor creates no database
