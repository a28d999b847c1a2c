"""Target lists from CSV or YAML files, checked row by row: every bad row is reported, none is loaded."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowengine.campaign.windows import zone
from flowengine.store.outplans import DESTINATION_SLOTS
from flowengine.store.records import Address

COLUMNS = ("name", "detail", "data", "timezone", "destination", *(f"destination_{i}" for i in range(DESTINATION_SLOTS)))
ADDRESS_TYPES = ("tel", "sip", "extension")
PATTERNS = {
    "tel": re.compile(r"^\+?[0-9]{2,20}$"),
    "sip": re.compile(r"^[A-Za-z0-9_.+-]+(@[A-Za-z0-9_.:-]+)?$"),
    "extension": re.compile(r"^[A-Za-z0-9_.+-]{1,80}$"),
}


class TargetsError(ValueError):
    """A target list has bad rows; `problems` has one `row N: ...` line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing loaded\n" + "\n".join(problems))


@dataclass(frozen=True)
class TargetRow:
    """One checked target: its row number in the file and its fields."""

    row: int
    name: str = ""
    detail: str = ""
    data: str = ""
    timezone: str = ""
    destinations: tuple[Address | None, ...] = field(default_factory=lambda: (None,) * DESTINATION_SLOTS)


def parse_address(value: Any) -> Address:
    """`tel:+331234`, `extension:busy`, a bare number (tel), or a mapping {type, target, ...}."""
    if isinstance(value, Mapping):
        address = Address.model_validate(dict(value))
    elif isinstance(value, (str, int)):
        text = str(value).strip()
        kind, sep, target = text.partition(":")
        if sep and kind in ADDRESS_TYPES:
            address = Address.model_validate({"type": kind, "target": target})
        else:
            address = Address(type="tel", target=text)
    else:
        raise ValueError(f"not an address: {value!r}")  # noqa: TRY004  (reported as a row problem)
    kind = address.type or "tel"
    if kind not in ADDRESS_TYPES:
        raise ValueError(f"address type {kind!r} cannot be dialed (use one of {', '.join(ADDRESS_TYPES)})")
    if not PATTERNS[kind].match(address.target):
        raise ValueError(f"{kind} target {address.target!r} is not valid")
    return address.model_copy(update={"type": kind})


def check_row(row: int, values: Mapping[str, Any]) -> tuple[TargetRow | None, list[str]]:
    problems = [f"row {row}: unknown column {key!r}" for key in values if key not in COLUMNS]
    slots: list[Address | None] = [None] * DESTINATION_SLOTS
    for key in ("destination", *(f"destination_{i}" for i in range(DESTINATION_SLOTS))):
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        index = 0 if key == "destination" else int(key[-1])
        if key == "destination" and values.get("destination_0") not in (None, ""):
            problems.append(f"row {row}: give destination or destination_0, not both")
            continue
        try:
            slots[index] = parse_address(raw)
        except ValueError as exc:
            problems.append(f"row {row}: {key}: {exc}")
    if not any(slots) and not any("destination" in p for p in problems):
        problems.append(f"row {row}: no destination")
    timezone = str(values.get("timezone") or "").strip()
    if timezone:
        try:
            zone(timezone)
        except ValueError as exc:
            problems.append(f"row {row}: timezone: {exc}")
    text = {k: str(values.get(k) or "") for k in ("name", "detail", "data")}
    if problems:
        return None, problems
    return TargetRow(row, timezone=timezone, destinations=tuple(slots), **text), []


def parse_csv(text: str, source: str = "<csv>") -> list[TargetRow]:
    """A header row naming columns from COLUMNS, then one target per row (row numbers count the header as 1)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise TargetsError(source, ["row 1: the file is empty (a header row is needed)"]) from None
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or not any(h.startswith("destination") for h in header):
        raise TargetsError(source, [
            f"row 1: header must name columns from {', '.join(COLUMNS)} and a destination; unknown: {unknown}"])
    rows: list[TargetRow] = []
    problems: list[str] = []
    for cells in reader:
        number = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"row {number}: {len(cells)} cells, the header has {len(header)}")
            continue
        checked, found = check_row(number, dict(zip(header, cells, strict=True)))
        problems += found
        if checked is not None:
            rows.append(checked)
    return _done(source, rows, problems)


def parse_yaml(data: Any, source: str = "<yaml>") -> list[TargetRow]:
    """A list of mappings with the CSV columns (row N = the N-th item, from 1)."""
    if not isinstance(data, list):
        raise TargetsError(source, ["row 1: targets must be a list of mappings"])
    rows: list[TargetRow] = []
    problems: list[str] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, Mapping):
            problems.append(f"row {number}: not a mapping")
            continue
        checked, found = check_row(number, item)
        problems += found
        if checked is not None:
            rows.append(checked)
    return _done(source, rows, problems)


def _done(source: str, rows: list[TargetRow], problems: list[str]) -> list[TargetRow]:
    if problems:
        raise TargetsError(source, problems)
    if not rows:
        raise TargetsError(source, ["no targets"])
    return rows


def load_targets(path: Path) -> list[TargetRow]:
    """Targets of a `.csv` file or a `.yaml`/`.yml` file holding a list."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TargetsError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse_yaml(data, str(path))
