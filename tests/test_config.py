"""Configuration: YAML + environment overrides, every problem reported at once with its key."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engine.yaml"
    path.write_text(text)
    return path


def test_file_and_environment_merge(tmp_path: Path) -> None:
    path = write(tmp_path, "asterisk:\n  ari_password: from-file\n  ami_port: 5038\nroutes:\n  default_flow: main\n")
    config = load_config(path, {
        "FLOWENGINE_ASTERISK__AMI_PORT": "6038",
        "FLOWENGINE_ROUTES__NUMBERS": '{"+15550100": sales}',
        "FLOWENGINE_MEDIA__ADVERTISE_HOST": "10.0.0.5",
        "FLOWENGINE_ASTERISK_CONF_DIR": "/not/a/config/key",
    })
    assert config.asterisk.ami_port == 6038
    assert config.asterisk.ari_password.get_secret_value() == "from-file"
    assert config.routes.numbers == {"+15550100": "sales"} and config.routes.default_flow == "main"
    assert config.media.external_host == "10.0.0.5"


def test_secrets_do_not_show_in_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "asterisk:\n  ari_password: s3cret\n  ami_secret: s3cret2\n"), {})
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())


def test_every_problem_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "asterisk:\n  ari_url: pbx:8088\n  reconnect_min_s: 2\n  reconnect_max_s: 1\n"
                           "  ari_password: x\nlog:\n  format: xml\nbogus: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {"FLOWENGINE_MEDIA__PORT_MIN": "80"})
    assert err.value.problems == [
        "asterisk.ari_url: must start with http:// or https://, got 'pbx:8088'",
        "asterisk.reconnect_max_s: must be >= reconnect_min_s (2.0)",
        "media.port_min (from FLOWENGINE_MEDIA__PORT_MIN): Input should be greater than or equal to 1024",
        "log.format: Input should be 'text' or 'json'",
        "bogus: unknown key",
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yaml", {})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "asterisk: [\n"), {})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n"), {})


def test_private_asterisk_needs_no_password() -> None:
    config = load_config(None, {"FLOWENGINE_ASTERISK__PRIVATE_DIR": "run/asterisk"})
    assert config.asterisk.private_dir == "run/asterisk"


def test_store_only_commands_need_no_asterisk_credentials(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: sqlite+aiosqlite:///x.db\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert any("ari_password is required" in p for p in err.value.problems)
    config = load_config(path, {}, need_asterisk=False)
    assert config.store.url == "sqlite+aiosqlite:///x.db" and config.asterisk.private_dir == ""


def test_webhooks_section(tmp_path: Path) -> None:
    defaults = load_config(None, {"FLOWENGINE_ASTERISK__PRIVATE_DIR": "x"}).webhooks
    assert defaults.max_age_s >= 3600 and defaults.backoff_min_s <= defaults.backoff_max_s
    config = load_config(write(tmp_path, "asterisk:\n  private_dir: x\nwebhooks:\n  max_age_s: 86400\n"
                                         "  backoff_min_s: 2\n  backoff_max_s: 600\n  timeout_s: 5\n"), {})
    assert (config.webhooks.max_age_s, config.webhooks.backoff_min_s, config.webhooks.backoff_max_s,
            config.webhooks.timeout_s) == (86400, 2, 600, 5)
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "asterisk:\n  private_dir: x\nwebhooks:\n  backoff_min_s: 10\n"
                                    "  backoff_max_s: 1\n  max_age_s: 0\n"), {})
    assert err.value.problems == ["webhooks.max_age_s: Input should be greater than 0",
                                  "webhooks.backoff_max_s: must be >= backoff_min_s (10.0)"]


def test_speech_providers_keys_from_the_file_or_the_environment(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELEVENLABS_API_KEY", "ELEVEN_API_KEY", "DEEPGRAM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "engine.yaml"
    path.write_text("speech:\n  tts: elevenlabs\n  fallback_stt: deepgram\n  providers:\n"
                    "    elevenlabs: {api_key: xi-secret-7, base_url: 'http://127.0.0.1:9/'}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {}, need_asterisk=False)
    assert "fallback_stt 'deepgram': no api_key for deepgram" in str(err.value)  # the voice has its key
    config = load_config(path, {"FLOWENGINE_SPEECH__PROVIDERS__DEEPGRAM__API_KEY": "dg-secret-8"},
                         need_asterisk=False)
    accesses = config.speech.accesses()
    assert accesses["elevenlabs"].api_key == "xi-secret-7" and accesses["elevenlabs"].base_url == "http://127.0.0.1:9"
    assert accesses["deepgram"].api_key == "dg-secret-8"
    shown = repr(config) + repr(accesses)
    assert "xi-secret-7" not in shown and "dg-secret-8" not in shown
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-env")  # the vendor's own variable is enough too
    assert load_config(path, {}, need_asterisk=False).speech.fallback_stt == "deepgram"


def test_unknown_speech_vendors_and_fallbacks_are_named(tmp_path: Path) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text("speech:\n  fallback_tts: rime\n  providers:\n    eleven: {api_key: x}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {}, need_asterisk=False)
    text = str(err.value)
    assert "speech.providers: no cloud speech vendor is called 'eleven'" in text
    assert "speech.fallback_tts: " in text and "'rime' is not available" in text


def test_the_node_section_takes_its_id_and_lease_from_the_environment() -> None:
    config = load_config(None, {"FLOWENGINE_NODE__ID": "engine-1", "FLOWENGINE_NODE__LEASE_S": "4.5",
                                "FLOWENGINE_ASTERISK__ARI_PASSWORD": "x"})
    assert (config.node.id, config.node.lease_s) == ("engine-1", 4.5)
    assert load_config(None, {"FLOWENGINE_ASTERISK__ARI_PASSWORD": "x"}).node.id == ""  # derived at start
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"FLOWENGINE_NODE__ID": "a b/c", "FLOWENGINE_NODE__LEASE_S": "0",
                           "FLOWENGINE_ASTERISK__ARI_PASSWORD": "x"})
    problems = " ".join(caught.value.problems)
    assert "node.id (from FLOWENGINE_NODE__ID)" in problems and "node.lease_s (from FLOWENGINE_NODE__LEASE_S)" in problems
