"""SIPp as an outside caller on loopback: its command line (addresses, SIP and media ports) for one scenario."""
from __future__ import annotations

import socket
from pathlib import Path

from flowengine.asterisk.instance import free_port


class SippError(Exception):
    """SIPp could not be given the ports it needs."""


def media_port(host: str) -> int:
    """SIPp's own media port (it binds it and the one two above, for video): both free, off the RTP range."""
    for _ in range(20):
        port = free_port(host, socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port + 2))
            except OSError:
                continue
        return port
    raise SippError(f"no free pair of UDP ports on {host} for SIPp's media")


def sipp_command(target: tuple[str, int], scenario: Path, local_ip: str, media: int, extension: str,
                 recv_timeout_ms: int = 10000) -> list[str]:
    """SIPp calling `extension` at `target` with `scenario`, from `local_ip` (a free SIP port) with its media
    on `media`; no keyboard, `recv_timeout_ms` to wait for any one message. Callers add the call count, rate
    and traces."""
    return ["sipp", f"{target[0]}:{target[1]}", "-sf", str(scenario), "-s", extension,
            "-i", local_ip, "-p", str(free_port(local_ip, socket.SOCK_DGRAM)), "-mi", local_ip, "-mp", str(media),
            "-nostdin", "-recv_timeout", str(recv_timeout_ms)]
