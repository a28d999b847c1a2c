"""Structured logs: call/activeflow/aicall ids carried by context variables onto every record."""
from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

# Never mutated in place: every change sets a new dict, so a shared empty default is safe.
_EMPTY: dict[str, str] = {}
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("flowengine_log_context", default=_EMPTY)


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Attach ids to every record logged inside (tasks started inside inherit them)."""
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**ids: str) -> None:
    """Attach ids for the rest of the current task (its context is its own copy)."""
    _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _context.get()
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        ctx = getattr(record, "context", {}) or {}
        ids = "".join(f" {k}={v}" for k, v in ctx.items())
        line = f"{stamp} {record.levelname:<7} {record.name}{ids}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **(getattr(record, "context", {}) or {}),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(level: str = "INFO", fmt: str = "text", stream: object = None,
                  handler: logging.Handler | None = None) -> None:
    """Configure the root logger once (the CLI calls this; library code never does). `handler` replaces the
    stream handler (a live display's, which draws records above its area); it keeps its own formatter."""
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # panoramisk logs a traceback on every failed reconnect attempt; our AMI client reports those.
    logging.getLogger("flowengine.asterisk.ami.panoramisk").setLevel(logging.CRITICAL)
    logging.getLogger("panoramisk").setLevel(logging.WARNING)


class MessageFormatter(logging.Formatter):
    """Logger name, context ids and message, for handlers that draw the time and level themselves (rich)."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = getattr(record, "context", {}) or {}
        line = f"{record.name}{''.join(f' {k}={v}' for k, v in ctx.items())}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
