"""`flowengine customers` and `keys` on a SQLite store: create, list page by page, revoke, and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine.cli.main import main


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_customers_and_keys_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text(f"store:\n  url: 'sqlite+aiosqlite:///{tmp_path / 'engine.db'}'\n")
    names = [f"tenant-{n:03d}" for n in range(105)]  # more than one page of 100
    for name in names:
        assert main(["customers", "--config", str(config), "create", name]) == 0
    created = [json.loads(block) for block in capsys.readouterr().out.replace("}\n{", "}\x00{").split("\x00")]
    assert [c["name"] for c in created] == names
    assert main(["customers", "--config", str(config), "list"]) == 0
    listed = lines(capsys)
    assert sorted(c["name"] for c in listed) == names and len({c["id"] for c in listed}) == 105
    customer = str(created[0]["id"])
    assert main(["keys", "--config", str(config), "create", customer, "--name", "ci"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["name"] == "ci" and issued["token"]
    assert main(["keys", "--config", str(config), "list", customer]) == 0
    (key,) = lines(capsys)
    assert key["id"] == issued["id"] and "token" not in key
    assert main(["keys", "--config", str(config), "revoke", customer, str(key["id"])]) == 0
    assert lines(capsys)[0]["id"] == issued["id"]
    assert main(["keys", "--config", str(config), "list", customer]) == 0
    assert lines(capsys) == []


@pytest.mark.parametrize("command", [["customers", "list"], ["keys", "list", "some-customer"]])
def test_a_store_it_cannot_open_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            command: list[str]) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("store:\n  url: 'foo://bar'\n")
    assert main([command[0], "--config", str(config), *command[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"flowengine {command[0]}: ") and "unsupported database 'foo'" in err
