"""`flowengine asterisk render-conf`: snippets an existing Asterisk includes; ARI answers with their credentials,
the dialplan context routes into the app, `doctor` finds what it needs there, and the password never reaches
stdout."""
from __future__ import annotations

import asyncio
import contextlib
import io
import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisEnd, StasisStart
from flowengine.asterisk.ari.rest import AriAuthError, AriRest
from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk, free_port
from flowengine.cli.main import main
from flowengine.config import AsteriskConfig, Config, SpeechConfig, StoreConfig, load_config
from flowengine.doctor.run import diagnose

pytestmark = pytest.mark.asterisk


STOCK = Path("/etc/asterisk")  # Debian's own configuration (package asterisk-config)


class SiteAsterisk(PrivateAsterisk):
    """A private Asterisk dressed as an existing one: its own ari.conf has no flowengine user, its HTTP server is
    off, its dialplan knows nothing of flowengine; each file ends with an #include of render-conf's snippet.
    `stock=True` starts from Debian's own ari.conf, http.conf, rtp.conf and extensions.conf instead."""

    stdout = ""
    stock = False

    def _render(self, info: InstanceInfo) -> None:
        super()._render(info)
        etc = self.etc_dir
        config = self.directory / "engine.yaml"
        config.write_text(f"asterisk:\n  ari_url: http://127.0.0.1:{info.ari_port}\n"
                          f"  ari_username: {info.ari_username}\n  app: {info.app}\n")
        secret = self.directory / "ari-password"
        secret.write_text(info.ari_password + "\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["asterisk", "render-conf", "--out", str(etc / "flowengine"), "--config", str(config),
                         "--ari-password-file", str(secret), "--rtp-start", "30000", "--rtp-end", "30999"])
        assert code == 0
        self.stdout = out.getvalue()
        include = json.loads(self.stdout)["include"]
        own = {"ari.conf": "[general]\nenabled = yes\n\n[someone]\ntype = user\npassword = x\n",
               "http.conf": "[general]\nenabled = no\nbindaddr = 127.0.0.2\n",
               "rtp.conf": "[general]\nstrictrtp = yes\n",
               "extensions.conf": "[general]\nstatic = yes\n\n[default]\nexten => s,1,Hangup()\n"}
        for name, text in own.items():
            site = (STOCK / name).read_text() if self.stock else text
            (etc / name).write_text(f"{site}\n{include[name]}\n")


@pytest.mark.parametrize("stock", [False, True], ids=["minimal-site", "debian-stock"])
async def test_snippets_attach_an_existing_asterisk(tmp_path: Path, stock: bool) -> None:
    site = SiteAsterisk(tmp_path / "site", app="rc-test")
    site.stock = stock
    info = await asyncio.to_thread(site.start)  # answers only through the snippets' HTTP server and user
    password = info.ari_password
    try:
        assert password not in site.stdout
        folder = site.etc_dir / "flowengine"
        env = (folder / "flowengine.env").read_text()
        assert f"FLOWENGINE_ASTERISK__ARI_PASSWORD={password}\n" in env
        assert stat.S_IMODE((folder / "flowengine.env").stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / "ari.conf").stat().st_mode) == 0o640

        wrong = AriRest(info.ari_url, info.ari_username, "wrong")
        with pytest.raises(AriAuthError):
            await wrong.get("/asterisk/info")
        await wrong.aclose()
        assert "rc-test" in site.cli("dialplan show flowengine-inbound")
        rtp = site.cli("rtp show settings")
        # Asterisk 16 keeps the first rtpstart it reads: Debian's own 10000 wins over the snippet (docs/deploy.md)
        assert ("Port start:      10000" in rtp) if stock else ("Port start:      30000" in rtp and "30999" in rtp)

        # a call into the inbound context reaches the app, through the snippet's credentials
        async with AriClient(info.ari_url, info.ari_username, password, "rc-test") as ari:
            events = ari.events()
            leg = await ari.channels.originate("Local/5551234@flowengine-inbound")
            start = await events.wait_for(StasisStart, timeout=10)  # the dialplan's Stasis(), on the ;2 side
            assert start.channel.name.endswith(";2")
            await leg.hangup()
            await events.wait_for(StasisEnd, timeout=10)  # the app holds no channel when it closes
            events.close()

        # the doctor on this Asterisk: the snippets give it everything but an engine on the app (the app the test
        # just held is closed; Asterisk may still list it, which the doctor sees through)
        config = Config(asterisk=AsteriskConfig(ari_url=info.ari_url, ari_username=info.ari_username,
                                                ari_password=SecretStr(password), app="rc-test"),
                        speech=SpeechConfig(tts="espeak", http_port=free_port("127.0.0.1")),
                        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"),
                        flows_dir=str(tmp_path / "flows"))
        checks = (await diagnose(config, listen_s=0.5)).by_name()
        assert {n: c.status for n, c in checks.items() if n in ("ari", "app", "rtp", "speech_http")} == {
            "ari": "ok", "app": "failed", "rtp": "ok", "speech_http": "ok"}
        # without the dialplan snippet the doctor's probe has nowhere to go, and the fix says what to include
        dialplan = site.etc_dir / "extensions.conf"
        dialplan.write_text(dialplan.read_text().replace("#include", "; #include"))
        site.cli("dialplan reload")
        rtp = (await diagnose(config, listen_s=0.5)).by_name()["rtp"]
        assert rtp.status == "failed" and "Local/doctor@flowengine-services" in rtp.detail
        assert "render-conf" in rtp.fix and "extensions.conf" in rtp.fix
    finally:
        await asyncio.to_thread(site.stop)


def test_a_missing_password_is_generated_and_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWENGINE_ASTERISK__ARI_PASSWORD", raising=False)
    assert main(["asterisk", "render-conf", "--out", str(tmp_path), "--http-bind", "0.0.0.0",
                 "--http-port", "8089"]) == 0
    printed = capsys.readouterr().out
    env = dict(line.split("=", 1) for line in (tmp_path / "flowengine.env").read_text().splitlines())
    password = env["FLOWENGINE_ASTERISK__ARI_PASSWORD"]
    assert len(password) >= 24 and password not in printed
    assert f"password = {password}\n" in (tmp_path / "ari.conf").read_text()
    assert env["FLOWENGINE_ASTERISK__ARI_URL"] == "http://127.0.0.1:8089"  # 0.0.0.0 is no address to dial
    assert "bindaddr = 0.0.0.0\nbindport = 8089\n" in (tmp_path / "http.conf").read_text()
    assert json.loads(printed)["ari_password"].startswith("(generated;")
    engine = load_config(environ=env).asterisk  # the env file is all the engine needs to log in
    assert engine.ari_password.get_secret_value() == password and engine.ari_url == "http://127.0.0.1:8089"


def test_render_conf_needs_an_out_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asterisk", "render-conf"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err

