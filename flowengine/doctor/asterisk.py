"""Doctor checks through Asterisk: ARI login, the engine's app registered, RTP from Asterisk reaching the engine's
media ports, and Asterisk fetching from the engine's speech HTTP server.

The doctor never touches the engine's ARI app (a second WebSocket on it would take it over): its probe channel
lives in an app of its own, `<app>-doctor-<random>`, and goes away with the check."""
from __future__ import annotations

import asyncio
import random
import re
import secrets
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDestroyed, StasisStart
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.ari.rest import AriAuthError, AriError, AriNotFound, AriRest, AriUnavailable
from flowengine.asterisk.instance import PrivateAsterisk
from flowengine.asterisk.media_server import MediaServer
from flowengine.config import AsteriskConfig, MediaConfig, SpeechConfig
from flowengine.doctor.report import Check

PROBE_CONTEXT, PROBE_EXTEN = "flowengine-services", "doctor"  # dialplan/extensions.conf: Answer + Milliwatt
MIN_PACKETS = 10  # 200 ms of 20 ms frames
RENDER_HINT = "flowengine asterisk render-conf --out /etc/asterisk/flowengine --config FILE"


@dataclass(frozen=True)
class AriTarget:
    """Where and as whom the engine logs in to ARI (a private Asterisk's own ports and credentials when used)."""

    url: str
    username: str
    password: str
    app: str

    @classmethod
    def from_config(cls, cfg: AsteriskConfig) -> AriTarget | str:
        """The target, or why there is none (a private Asterisk that was never started)."""
        if cfg.private_dir:
            info = PrivateAsterisk(cfg.private_dir).load_info()
            if info is None:
                return f"asterisk.private_dir {cfg.private_dir!r} holds no started Asterisk"
            return cls(info.ari_url, info.ari_username, info.ari_password, cfg.app)
        return cls(cfg.ari_url, cfg.ari_username, cfg.ari_password.get_secret_value(), cfg.app)


def has_external_media(version: str) -> bool:
    """ARI's externalMedia came with Asterisk 16.6; an unreadable version (a git build) is given the benefit."""
    found = re.search(r"(\d+)\.(\d+)", version)
    return found is None or (int(found.group(1)), int(found.group(2))) >= (16, 6)


async def check_ari(target: AriTarget, timeout: float = 5.0) -> list[Check]:
    """`ari`: Asterisk answers with these credentials; `app`: the engine holds its ARI app."""
    rest = AriRest(target.url, target.username, target.password, timeout)
    try:
        try:
            info = await rest.get("/asterisk/info")
        except AriAuthError:
            return [Check.failed("ari", f"{target.url} refused ARI user {target.username!r} (401)",
                                 "asterisk.ari_username / ari_password must match a user of Asterisk's ari.conf; "
                                 f"`{RENDER_HINT}` writes both sides, then `asterisk -rx 'module reload res_ari.so'`"),
                    Check.skipped("app", "ARI login failed")]
        except AriUnavailable as exc:
            return [Check.failed("ari", f"no ARI at {target.url}: {exc}",
                                 "Asterisk's HTTP server must listen there (http.conf enabled = yes, bindaddr, bindport: "
                                 f"`{RENDER_HINT}` writes it) with res_ari loaded, and the engine host must reach "
                                 "that TCP port; or correct asterisk.ari_url"),
                    Check.skipped("app", "ARI unreachable")]
        except AriError as exc:
            return [Check.failed("ari", f"{target.url} is no ARI: {exc}",
                                 "asterisk.ari_url is Asterisk's HTTP server, without /ari (http.conf prefix empty)"),
                    Check.skipped("app", "ARI unreachable")]
        version = str(info.get("system", {}).get("version", "?"))
        if not has_external_media(version):
            return [Check.failed("ari", f"Asterisk {version} at {target.url} has no externalMedia (AI calls need it)",
                                 "upgrade Asterisk to 16.6 or later (tested: 16.28; configs suit 18-22)"),
                    Check.skipped("app", "Asterisk too old")]
        checks = [Check.ok("ari", f"ARI at {target.url} as {target.username!r} (Asterisk {version})")]
        if await _app_held(target, rest):
            checks.append(Check.ok("app", f"ARI app {target.app!r} is held: the engine is connected"))
        else:
            checks.append(Check.failed("app", f"no engine holds ARI app {target.app!r}",
                                       "start the engine (`systemctl start flowengine` or `flowengine serve --config "
                                       "FILE`) and check its log; asterisk.app must name the same app everywhere"))
        return checks
    finally:
        await rest.aclose()


async def _app_held(target: AriTarget, rest: AriRest, window: float = 1.0) -> bool:
    """Whether an engine holds the app: it is still listed after sweeps over `window` seconds. Asterisk lists a
    closed app until it processes the close and the sweep finds it finished (no channel of it still being torn
    down), which under load can take a moment after the WebSocket closed; an engine's app is listed throughout."""
    deadline = time.monotonic() + window
    while True:
        await _sweep_apps(target, rest)
        try:
            await rest.get(f"/applications/{target.app}")
        except AriNotFound:
            return False
        if time.monotonic() >= deadline:
            return True
        await asyncio.sleep(0.2)


async def _sweep_apps(target: AriTarget, rest: AriRest, timeout: float = 3.0) -> None:
    """Make Asterisk forget apps nobody holds any more: Asterisk 16 can keep listing the app of a closed WebSocket
    (its channel subscriptions were still going when it closed) until some app unregisters, which sweeps every
    finished app. So the doctor registers a throwaway app and closes it, then waits until that one is gone."""
    name = f"{target.app}-doctor-{secrets.token_hex(3)}"
    client = AriClient(target.url, target.username, target.password, name)
    try:
        await client.start(timeout=timeout)
    except (AriError, TimeoutError):
        return
    await client.aclose()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await rest.get(f"/applications/{name}")
        except AriNotFound:
            return
        await asyncio.sleep(0.05)


async def check_media(target: AriTarget, media: MediaConfig, speech: SpeechConfig,
                      listen_s: float = 1.0) -> list[Check]:
    """`rtp` and `speech_http`, both through one probe channel in the doctor's own ARI app."""
    client = AriClient(target.url, target.username, target.password, f"{target.app}-doctor-{secrets.token_hex(3)}")
    try:
        await client.start(timeout=5)
    except AriError as exc:
        return [Check.skipped("rtp", f"ARI: {exc}"), Check.skipped("speech_http", f"ARI: {exc}")]
    try:
        try:
            leg = await _probe_channel(client)
        except (AriError, TimeoutError, ProbeHungUp) as exc:
            detail = f"the probe channel Local/{PROBE_EXTEN}@{PROBE_CONTEXT} did not answer ({exc or 'timeout'})"
            fix = (f"include flowengine's dialplan (`{RENDER_HINT}`, then #include its extensions.conf in "
                   "extensions.conf and `asterisk -rx 'dialplan reload'`)")
            return [Check.failed("rtp", detail, fix), Check.skipped("speech_http", "no probe channel")]
        try:
            return [await _rtp(client, leg, media, listen_s), await _speech(leg, speech)]
        finally:
            await leg.hangup()
    finally:
        await client.aclose()


class ProbeHungUp(Exception):
    """The probe channel ended before it answered (no such extension, most often)."""


async def _probe_channel(client: AriClient, timeout: float = 5.0) -> ChannelHandle:
    """The probe channel, once in the doctor's app; a channel Asterisk hangs up at once fails at once."""
    channel_id = f"doctor-{secrets.token_hex(6)}"
    async with client.events(channel_id) as events:
        leg = await client.channels.originate(f"Local/{PROBE_EXTEN}@{PROBE_CONTEXT}", formats="ulaw",
                                              channel_id=channel_id)
        async with asyncio.timeout(timeout):
            while True:
                event = await events.get()
                if isinstance(event, StasisStart):
                    return leg
                if isinstance(event, ChannelDestroyed):
                    raise ProbeHungUp(f"hung up at once: {event.cause_txt or event.cause}")


def _bind_media_port(media: MediaConfig) -> socket.socket:
    """A UDP socket on a free port of the engine's media range (what a firewall must let through)."""
    ports = list(range(media.port_min, media.port_max + 1))
    random.shuffle(ports)
    last: OSError | None = None
    for port in ports[:64]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((media.bind_host, port))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setblocking(False)
        return sock
    raise OSError(f"no free UDP port in {media.port_min}-{media.port_max} on {media.bind_host}: {last}")


async def _rtp(client: AriClient, leg: ChannelHandle, media: MediaConfig, listen_s: float) -> Check:
    try:
        sock = _bind_media_port(media)
    except OSError as exc:
        return Check.failed("rtp", str(exc), "media.bind_host must be an address of this host; widen "
                                             "media.port_min..port_max if the range is full")
    port = sock.getsockname()[1]
    where = f"{media.external_host}:{port}"
    try:
        bridge = await client.bridges.create("mixing")
        try:
            try:
                channel = await client.channels.external_media(where, fmt="ulaw")
            except (AriError, TimeoutError) as exc:
                return Check.failed("rtp", f"Asterisk refused an externalMedia channel to {where}: {exc}",
                                    "externalMedia needs Asterisk >= 16.6 with chan_rtp loaded "
                                    "(`asterisk -rx 'module load chan_rtp.so'`)")
            try:
                await bridge.add(leg.id, channel.id)
                count, source = await _count_rtp(sock, listen_s)
            finally:
                await channel.hangup()
        finally:
            await bridge.destroy()
    finally:
        sock.close()
    if count >= MIN_PACKETS:
        return Check.ok("rtp", f"{count} RTP packets in {listen_s:g} s from Asterisk ({source}) to "
                               f"{media.bind_host}:{port}")
    return Check.failed("rtp", f"{count} RTP packets reached {media.bind_host}:{port} in {listen_s:g} s (Asterisk "
                               f"was told to send to {where})",
                        f"media.advertise_host must be the engine's address as Asterisk sees it (now "
                        f"{media.external_host!r}); let UDP {media.port_min}-{media.port_max} from Asterisk reach "
                        "this host")


async def _count_rtp(sock: socket.socket, listen_s: float) -> tuple[int, str]:
    """RTP version-2 packets received within `listen_s`, and where the first came from."""
    loop = asyncio.get_running_loop()
    count, source = 0, "-"
    deadline = time.monotonic() + listen_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            data, addr = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), left)
        except TimeoutError:
            break
        if len(data) >= 12 and data[0] >> 6 == 2:
            if not count:
                source = f"{addr[0]}:{addr[1]}"
            count += 1
    return count, source


async def _speech(leg: ChannelHandle, speech: SpeechConfig) -> Check:
    """Asterisk runs CURL() on the speech server: the engine's when it holds the port (its 404 names the file),
    else a server of the doctor's own on that port serving a probe file. Both answers carry a random token."""
    token = secrets.token_hex(8)
    name = f"flowengine-doctor-{token}.sln"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_text(token)
        server: MediaServer | None = None
        probe = MediaServer(Path(folder), speech.http_host, speech.http_port, speech.advertise_host)
        try:
            await probe.start()
            server, by = probe, "a probe server of the doctor's own (the engine does not hold the port)"
        except OSError:
            await probe.aclose()
            by = "the engine's speech server"
        port = server.port if server is not None else speech.http_port
        url = f"http://{speech.advertise_host or speech.http_host}:{port}/media/{name}"
        try:
            value = await leg.get_var(f"CURL({url})") or ""
        except AriError as exc:
            return Check.failed("speech_http", f"Asterisk could not run CURL({url}): {exc}",
                                "load func_curl (`asterisk -rx 'module load func_curl.so'`; Debian: asterisk-modules)")
        finally:
            if server is not None:
                await server.aclose()
    if token in value:
        note = "" if speech.http_port else ("; speech.http_port is 0 (a new free port at each start): set a fixed "
                                            "port to open it in a firewall")
        return Check.ok("speech_http", f"Asterisk fetched {url} from {by}{note}")
    return Check.failed("speech_http", f"Asterisk could not fetch {url} (got {len(value)} bytes)",
                        f"speech.http_host (now {speech.http_host!r}) must listen on an address Asterisk reaches and "
                        f"speech.advertise_host name it (now {speech.advertise_host or 'unset'!r}); let TCP {port} "
                        "from Asterisk reach this host")
