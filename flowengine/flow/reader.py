"""Reading flow files and texts into `Document`s (plain data plus the source map of its nodes)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from flowengine.flow.errors import FlowSyntaxError
from flowengine.flow.json_reader import read_json
from flowengine.flow.problems import Location, Problem
from flowengine.flow.source import Document
from flowengine.flow.yaml_reader import read_yaml

Format = Literal["yaml", "json"]


def format_of(filename: str) -> Format:
    """`.json` files are read as strict JSON, everything else as YAML."""
    return "json" if filename.lower().endswith(".json") else "yaml"


def read_text(text: str, *, file: str = "<flow>", fmt: Format | None = None) -> Document:
    """Parse a YAML or JSON text; raises `FlowSyntaxError`."""
    if (fmt or format_of(file)) == "json":
        return read_json(text, file)
    return read_yaml(text, file)


def read_file(path: str | Path) -> Document:
    """Read and parse a flow file; unreadable or non-UTF-8 files raise `FlowSyntaxError` too."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise FlowSyntaxError([Problem(Location(name), "no such file")]) from None
    except IsADirectoryError:
        raise FlowSyntaxError([Problem(Location(name), "is a directory, not a flow file")]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FlowSyntaxError([Problem(Location(name), f"cannot read file: {reason}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        raise FlowSyntaxError([Problem(Location(name, line, col), message)]) from None
    return read_text(text, file=name)
