"""The deployment kit in docker/: the compose file passes Debian's `docker-compose config` (no daemon needed; images
cannot be built on these machines), every file a Dockerfile COPYs exists, the systemd units pass `systemd-analyze
verify`, and install-asterisk.sh installs what these checks run."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
SECRETS = {"ARI_PASSWORD": "ari-secret-1", "POSTGRES_PASSWORD": "pg-secret-2", "STORE_SECRET_KEY": "key-3"}


def compose_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose missing: `make deps` installs it (docker/install-asterisk.sh)"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("COMPOSE_")}
    return subprocess.run([tool, "-f", str(path), "config"], capture_output=True, text=True, timeout=60,
                          env={**clean, **env}, cwd=path.parent, check=False)


def test_compose_file_is_valid_and_has_every_service() -> None:
    result = compose_config(DOCKER / "compose.yaml", SECRETS)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"render-conf", "asterisk", "postgres", "engine", "kamailio"}
    for name in ("asterisk", "postgres", "engine", "kamailio"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped"
    engine = services["engine"]
    assert engine["environment"]["FLOWENGINE_ASTERISK__ARI_PASSWORD"] == "ari-secret-1"
    assert "pg-secret-2@127.0.0.1:5432/flowengine" in engine["environment"]["FLOWENGINE_STORE__URL"]
    assert engine["depends_on"] == {"asterisk": {"condition": "service_healthy"},
                                    "postgres": {"condition": "service_healthy"}}
    assert services["asterisk"]["depends_on"]["render-conf"]["condition"] == "service_completed_successfully"


def test_compose_refuses_a_missing_secret_and_an_unknown_key(tmp_path: Path) -> None:
    missing = compose_config(DOCKER / "compose.yaml", {k: v for k, v in SECRETS.items() if k != "ARI_PASSWORD"})
    assert missing.returncode != 0 and "set ARI_PASSWORD" in missing.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text((DOCKER / "compose.yaml").read_text().replace("    stop_grace_period:", "    stop_grace:"))
    result = compose_config(broken, SECRETS)
    assert result.returncode != 0 and "stop_grace" in result.stderr


def copies(dockerfile: Path) -> list[str]:
    """Sources of the COPY lines that read the build context (not `--from=` another stage)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    found: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from=") for w in words):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        found += args[:-1]
    return found


@pytest.mark.parametrize("name", ["Dockerfile", "asterisk.Dockerfile", "kamailio.Dockerfile"])
def test_every_file_a_dockerfile_copies_exists(name: str) -> None:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    contexts = {Path(s["build"]["dockerfile"]).name: (DOCKER / s["build"]["context"]).resolve()
                for s in services.values() if "build" in s}
    dockerfile = DOCKER / name
    context = contexts[name]
    text = dockerfile.read_text()
    assert text.startswith("#") and re.search(r"^FROM debian:12", text, re.MULTILINE)
    for source in copies(dockerfile):
        assert (context / source).exists(), f"{name}: COPY {source} not found in {context}"
    if name == "Dockerfile":
        assert copies(dockerfile) == ["setup.cfg", "setup.py", "pyproject.toml", "README.md", "flowengine/",
                                      "asterisk-conf/", "dialplan/"]


def test_the_copy_check_sees_a_missing_file(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12\nCOPY --chown=a:b nope.txt \\\n  also.txt /x/\nCOPY --from=build /a /a\n")
    assert copies(dockerfile) == ["nope.txt", "also.txt"]


@pytest.mark.parametrize("unit", ["flowengine.service", "flowengine@.service"])
def test_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    """`systemd-analyze verify` works without a running systemd; ExecStart must exist, so the copy points it at
    this checkout's `flowengine`. Unknown keys and bad values are warnings on stderr: none are allowed."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze missing (Debian package systemd)"
    text = (DOCKER / "systemd" / unit).read_text()
    assert "User=flowengine" in text and "Restart=on-failure" in text and "EnvironmentFile=/etc/flowengine/" in text
    binary = Path(shutil.which("flowengine") or ROOT / ".venv" / "bin" / "flowengine")
    copy = tmp_path / unit.replace("@.", "@a.")
    copy.write_text(text.replace("/opt/flowengine/bin/flowengine", str(binary)))
    result = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(copy.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    bad = subprocess.run([tool, "verify", str(broken)], capture_output=True, text=True, timeout=60, check=False)
    assert "restart specifier" in bad.stderr


def test_install_script_installs_the_kit_checkers() -> None:
    script = (DOCKER / "install-asterisk.sh").read_text()
    packages = re.search(r'^SYSTEM_PACKAGES="([^"]*)"', script, re.MULTILINE)
    assert packages is not None and "docker-compose" in packages.group(1).split()
