"""`flowengine campaign run` and `report` as an operator uses them: bad lists refused, Ctrl-C, resume, report."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.store import Store
from tests.conftest import Asterisk

PLAN = """\
name: cli test
max_concurrent_calls: 1
calls_per_second: 5
outplan:
  source: "5550100"
  dial_timeout: 5000
  try_interval: 100
actions:
  - type: sleep
    option: {duration: 3000}
targets: targets.csv
"""


def write_config(tmp: Path, asterisk: Asterisk) -> Path:
    info = asterisk.info
    (tmp / "flows").mkdir(exist_ok=True)
    config = tmp / "engine.yaml"
    config.write_text(
        f"asterisk:\n  ari_url: {info.ari_url}\n  ari_username: {info.ari_username}\n"
        f"  ari_password: {info.ari_password}\n  app: flowengine-campaign-cli\n"
        f"flows_dir: {tmp / 'flows'}\nspeech:\n  tts: espeak\n  cache_dir: {tmp / 'speech'}\n"
        f"outbound:\n  endpoints: {{extension: 'Local/{{target}}@flowengine-campaign-test'}}\n"
        f"store:\n  url: sqlite+aiosqlite:///{tmp / 'engine.db'}\n")
    return config


def flowengine(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    return subprocess.Popen([sys.executable, "-m", "flowengine.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_bad_rows_are_refused_with_their_numbers(tmp_path: Path, asterisk: Asterisk) -> None:
    config = write_config(tmp_path, asterisk)
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "targets.csv").write_text(
        "name,destination\nok,extension:talk1\nbad number,tel:12ab\nno destination,\nok2,extension:talk2\n"
        "zone,extension:talk3,extra\n")
    proc = flowengine("campaign", "run", str(tmp_path / "plan.yaml"), "--config", str(config))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "row 3: destination: tel target '12ab' is not valid" in err
    assert "row 4: no destination" in err
    assert "row 6: 3 cells, the header has 2" in err
    assert "row 2" not in err and "row 5" not in err
    assert not (tmp_path / "engine.db").exists()  # nothing stored, nothing dialed
    assert asterisk.channels() == []


async def _calls(db: Path) -> list[tuple[str, str, str]]:
    store = await Store.open(f"sqlite+aiosqlite:///{db}")
    try:
        campaigns = await store.campaigns.list_page(ENGINE_CUSTOMER_ID)
        assert len(campaigns.items) == 1
        calls = await store.campaigncalls.of_campaign(ENGINE_CUSTOMER_ID, campaigns.items[0].id)
        return [(c.destination.target, c.status, c.result) for c in calls] + [("campaign", campaigns.items[0].id,
                                                                              campaigns.items[0].status)]
    finally:
        await store.aclose()


def test_ctrl_c_stops_gracefully_and_a_rerun_resumes(tmp_path: Path, asterisk: Asterisk) -> None:
    config = write_config(tmp_path, asterisk)
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "targets.csv").write_text("name,destination\n" + "".join(
        f"t{i},extension:talk{i}\n" for i in range(1, 4)))
    plan = str(tmp_path / "plan.yaml")
    proc = flowengine("campaign", "run", plan, "--config", str(config))
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "calls 1: 1 up" in line or not line:
            break
    assert "calls 1: 1 up" in lines[-1], "".join(lines[-10:])
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, rest
    assert "stopping" in rest
    first = asyncio.run(_calls(tmp_path / "engine.db"))
    campaign_id = first[-1][1]
    assert first[-1][2] == "stop"
    assert first[:-1] == [("talk1", "done", "success")]  # the call up when Ctrl-C came finished its flow

    again = flowengine("campaign", "run", plan, "--config", str(config))
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err[-2000:]
    assert "resumed" in err
    second = asyncio.run(_calls(tmp_path / "engine.db"))
    assert second[:-1] == [(f"talk{i}", "done", "success") for i in range(1, 4)]  # each dialed once

    report = flowengine("campaign", "report", campaign_id, "--config", str(config), "--out", str(tmp_path / "out"))
    out, err = report.communicate(timeout=60)
    assert report.returncode == 0, err
    assert "reached" in out and "answered" in out
    rows = (tmp_path / "out" / f"campaign-{campaign_id}.csv").read_text().splitlines()
    assert len(rows) == 4
    assert (tmp_path / "out" / f"campaign-{campaign_id}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (tmp_path / "out" / f"campaign-{campaign_id}.html").read_text()


def test_a_store_that_cannot_open_is_one_line(tmp_path: Path, asterisk: Asterisk) -> None:
    config = write_config(tmp_path, asterisk)
    config.write_text(config.read_text().replace(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}",
                                                 "'postgresql+asyncpg://nobody:pw-never-shown@127.0.0.1:1/x'"))
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "targets.csv").write_text("name,destination\nok,extension:talk1\n")
    proc = flowengine("campaign", "run", str(tmp_path / "plan.yaml"), "--config", str(config))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "flowengine campaign run: cannot open the database postgresql+asyncpg://nobody:***@" in err
    assert "Traceback" not in err and "pw-never-shown" not in err
    assert asterisk.channels() == []


async def _beside_a_node(tmp_path: Path, asterisk: Asterisk, config: Path, plan: str) -> None:
    from flowengine.runtime import Engine
    from tests.test_runtime_nodes import answered, call_into, hang_up, live_calls, node_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}"
    serving = Engine(node_config(asterisk, tmp_path / "serve", url, "campaign-serving", "node-serving"))
    await serving.start()
    try:
        assert serving.store is not None
        caller = await call_into(asterisk, "campaign-serving")
        await answered(serving.store, 1)
        calls = await live_calls(serving.store)
        # the campaign on the same app as the serving node: refused before it touches Asterisk
        same = tmp_path / "same-app.yaml"
        refused = flowengine("campaign", "run", plan, "--config", str(same))
        _, err = await asyncio.to_thread(refused.communicate, timeout=60)
        assert refused.returncode == 2, err
        assert "flowengine campaign run: ARI app 'campaign-serving' is held by live node 'node-serving'" in err
        # on its own app it runs to its end, and settles nothing of the serving node's
        run = flowengine("campaign", "run", plan, "--config", str(config))
        _, err = await asyncio.to_thread(run.communicate, timeout=120)
        assert run.returncode == 0, err[-2000:]
        assert await live_calls(serving.store) == calls
        assert len(await serving.store.activeflows.of_every_customer(filters={"status": "running"})) == 1
        await hang_up(asterisk, "campaign-serving", [caller])
    finally:
        await serving.aclose()


def test_a_run_beside_a_serving_node_leaves_its_calls_alone(tmp_path: Path, asterisk: Asterisk) -> None:
    config = write_config(tmp_path, asterisk)
    (tmp_path / "plan.yaml").write_text(PLAN.replace("duration: 3000", "duration: 200"))
    (tmp_path / "targets.csv").write_text("name,destination\nt1,extension:talk1\n")
    (tmp_path / "same-app.yaml").write_text(config.read_text().replace("app: flowengine-campaign-cli",
                                                                       "app: campaign-serving"))
    asyncio.run(_beside_a_node(tmp_path, asterisk, config, str(tmp_path / "plan.yaml")))
