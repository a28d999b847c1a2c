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


SNIPPET_DIR = "include"  # asterisk-conf/include: snippets for an existing Asterisk
DIALPLAN_SNIPPET = "extensions.conf"
_SITE_SECTIONS = ("general", "globals")  # an existing dialplan has its own


def dialplan_contexts(text: str) -> str:
    """The rendered dialplan without what belongs to a whole Asterisk: its [general] and [globals] sections
    and its `#tryinclude` of local files. What is left (flowengine's contexts) can be #include-d."""
    kept: list[str] = []
    section = ""
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            section = stripped[1:stripped.index("]")].strip().lower()
        if section in _SITE_SECTIONS or stripped.startswith("#tryinclude"):
            continue
        kept.append(line)
    return "".join(kept)


def render_snippets(values: Mapping[str, object], dest: Path) -> list[Path]:
    """Render the include-able snippets (ari.conf, http.conf, rtp.conf and flowengine's dialplan contexts as
    extensions.conf) into `dest`, readable by their owner and group only (ari.conf holds a password)."""
    dest.mkdir(parents=True, exist_ok=True)
    sources = sorted((find_template_dir("asterisk-conf") / SNIPPET_DIR).glob("*.conf"))
    if not sources:
        raise TemplateError(f"no snippet templates in {find_template_dir('asterisk-conf') / SNIPPET_DIR}")
    rendered = {src.name: render(src.read_text(), values, str(src)) for src in sources}
    dialplan = find_template_dir("dialplan") / DIALPLAN_SNIPPET
    rendered[DIALPLAN_SNIPPET] = dialplan_contexts(render(dialplan.read_text(), values, str(dialplan)))
    written: list[Path] = []
    for name, text in rendered.items():
        target = dest / name
        target.touch(mode=0o640)
        target.chmod(0o640)
        target.write_text(text)
        written.append(target)
    return written
