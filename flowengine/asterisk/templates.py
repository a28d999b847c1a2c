"""Asterisk config templates: finding `asterisk-conf/` and `dialplan/`, rendering `{{name}}`."""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
TEMPLATE_DIRS = ("asterisk-conf", "dialplan")


class TemplateError(Exception):
    """A template names a placeholder with no value, or the template folders are missing."""


def find_template_dir(name: str) -> Path:
    """Return the folder `asterisk-conf` or `dialplan`: the checkout's, else the installed copy."""
    override = os.environ.get("FLOWENGINE_" + name.upper().replace("-", "_") + "_DIR")
    candidates = [Path(override)] if override else []
    candidates.append(Path(__file__).resolve().parents[2] / name)
    candidates.append(Path(sys.prefix) / "share" / "flowengine" / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise TemplateError(f"template folder {name!r} not found (tried {tried})")


def render(text: str, values: Mapping[str, object], source: str = "<template>") -> str:
    """Fill every `{{name}}`; a name without a value is an error naming file and line."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            line = text.count("\n", 0, match.start()) + 1
            missing.append(f"{source}:{line}: no value for {{{{{key}}}}}")
            return match.group(0)
        return str(values[key])

    out = PLACEHOLDER.sub(fill, text)
    if missing:
        raise TemplateError("; ".join(missing))
    return out


def render_all(values: Mapping[str, object], dest: Path) -> list[Path]:
    """Render every `*.conf` of the template folders into `dest`; return the files written."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for folder in TEMPLATE_DIRS:
        for src in sorted(find_template_dir(folder).glob("*.conf")):
            target = dest / src.name
            target.write_text(render(src.read_text(), values, str(src)))
            written.append(target)
    return written
