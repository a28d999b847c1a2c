"""What `campaign run` shows while it dials: a rich live area on a terminal, log records drawn above it;
plain lines every few seconds when the output is not a terminal."""
from __future__ import annotations

import logging
import os
import time
from types import TracebackType
from typing import Self, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.logging import RichHandler
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from flowengine.campaign.progress import Snapshot, call_line, clock, eta_seconds, render
from flowengine.campaign.results import DIAL_OUTCOMES
from flowengine.logs import MessageFormatter

PLAIN_EVERY_S = 2.0
# Conventional outcome colours (the report's chart uses the same ones).
STYLES = {"answered": "green", "machine": "magenta", "busy": "bright_black", "noanswer": "yellow", "failed": "red",
          "interrupted": "bright_black", "up": "cyan", "ringing": "blue"}
LABELS = {"noanswer": "no answer"}


class Display:
    """Use as a context manager; `show` a snapshot as often as wanted, `say` a line above the live area."""

    def __init__(self, stream: TextIO, title: str) -> None:
        self.stream = stream
        self.title = title
        self.tty = stream.isatty()
        # The terminal is asked for its size at each redraw (it follows resizes). COLUMNS/LINES are left out: under
        # tmux the engine's process was seen holding COLUMNS=80 LINES=24 on a 150-column pane (its parent set neither).
        environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.console = Console(file=stream, highlight=False, soft_wrap=False, _environ=environ)
        self.live: Live | None = None
        self.first: Snapshot | None = None
        self.t0 = time.monotonic()
        self.last_plain = 0.0

    def log_handler(self) -> logging.Handler | None:
        """On a terminal, log records go through the live display's console (drawn above the live area)."""
        if not self.tty:
            return None
        handler = RichHandler(console=self.console, show_path=False, markup=False, rich_tracebacks=False,
                              log_time_format="%H:%M:%S")
        handler.setFormatter(MessageFormatter())
        return handler

    def __enter__(self) -> Self:
        if self.tty:
            self.live = Live(console=self.console, auto_refresh=False, transient=False, redirect_stdout=True,
                             redirect_stderr=True)
            self.live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def say(self, line: str) -> None:
        if self.tty:
            self.console.print(line, markup=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def show(self, s: Snapshot, final: bool = False) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = s
        eta = None if s.finished == s.targets else eta_seconds(self.first, s, now - self.t0)
        if self.live is not None:
            self.live.update(self.panel(s, eta, now - self.t0), refresh=True)
        elif final or now - self.last_plain >= PLAIN_EVERY_S:
            self.last_plain = now
            self.stream.write(render(s, eta) + "\n")
            self.stream.flush()

    def panel(self, s: Snapshot, eta: float | None, elapsed: float) -> RenderableType:
        head = Text.assemble((self.title, "bold"), f"  {s.status}  elapsed {clock(elapsed)}  ETA {clock(eta)}")
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=max(s.targets, 1), completed=s.finished, width=40),
                    Text(f"{s.finished}/{s.targets} targets done"))
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="bold", min_width=7)
        rows.add_row("targets", Text.assemble((f"{s.reached} reached", "green"), ", ",
                                              (f"{s.given_up} not reached", "red"),
                                              f", {s.dialing} dialing, {s.retrying} to retry, {s.waiting} waiting"))
        dials = Text(f"{s.dials_made}")
        parts = [(f"{s.dials[k]} {LABELS.get(k, k)}", STYLES[k]) for k in DIAL_OUTCOMES if s.dials[k]]
        for i, part in enumerate(parts):
            dials.append(": " if i == 0 else ", ")
            dials.append(*part)
        rows.add_row("dials", dials)
        rows.add_row("calls", call_line(s).removeprefix("calls "))
        return Group(head, bar, rows)
