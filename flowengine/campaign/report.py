"""Campaign reports: outcome tables, a CSV of every dial, a PNG chart (dials over time, targets by outcome and
tries) and the per-target rows the HTML report shows."""
from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flowengine.campaign.results import DIAL_OUTCOMES, dial_outcome
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.outdials import OutdialTarget
from flowengine.store.outplans import DESTINATION_SLOTS
from flowengine.store.timestamps import format_timestamp

CSV_FIELDS = ("id", "outdial_target_id", "destination", "destination_index", "try_count", "status", "result",
              "hangup_reason", "amd_status", "tm_create", "tm_update")
# Conventional colours: success green, failure red, no answer amber, busy grey (colour-blind safe enough
# next to the labels every bar and area carries).
COLOURS = {"answered": "#2e9e44", "machine": "#8e6bbf", "busy": "#8c8c8c", "noanswer": "#f0a020",
           "failed": "#d62f2f", "interrupted": "#5a5a5a", "up": "#3b8fd9", "ringing": "#9cc7ee"}
LABELS = {"noanswer": "no answer"}
HATCHES = (None, None, "//", "xx", "..")  # by dials per target: 0, 1, 2, 3, more
TARGET_OUTCOMES = ("reached", "not reached", "in progress", "not yet")
TARGET_COLOURS = {"reached": "#2e9e44", "not reached": "#d62f2f", "in progress": "#3b8fd9", "not yet": "#c8c8c8"}


def label(outcome: str) -> str:
    return LABELS.get(outcome, outcome)


@dataclass(frozen=True)
class TargetRow:
    """One target: its outcome (reached, not reached, in progress, not yet) and its dials, oldest first."""

    name: str
    destination: str
    outcome: str
    dials: list[str] = field(default_factory=list)  # dial outcomes
    last_reason: str = ""

    @property
    def tries(self) -> int:
        return len(self.dials)


def per_target(targets: Sequence[OutdialTarget], calls: Sequence[Campaigncall]) -> list[TargetRow]:
    by_target: dict[str, list[Campaigncall]] = {}
    for c in sorted(calls, key=lambda c: c.tm_create):
        by_target.setdefault(c.outdial_target_id, []).append(c)
    rows = []
    for t in targets:
        mine = by_target.get(t.id, [])
        outcomes = [dial_outcome(c) for c in mine]
        if any(c.result == "success" for c in mine):
            outcome = "reached"
        elif t.status == "progressing" or any(c.status != "done" for c in mine):
            outcome = "in progress"
        elif t.status == "done":
            outcome = "not reached"
        else:
            outcome = "not yet" if not mine else "not reached"  # idle after tries: exhausted or to retry
        first = next((t.destination(i) for i in range(DESTINATION_SLOTS) if t.destination(i) is not None), None)
        rows.append(TargetRow(name=t.name or t.id[:8], destination=first.target if first else "", outcome=outcome,
                              dials=outcomes, last_reason=mine[-1].hangup_reason if mine else ""))
    return sorted(rows, key=lambda r: (TARGET_OUTCOMES.index(r.outcome), r.name))


def table(calls: Sequence[Campaigncall], rows: Sequence[TargetRow]) -> str:
    """Counts as aligned text: targets by outcome, then dials by outcome (the two units kept apart)."""
    by_target = Counter(r.outcome for r in rows)
    by_dial = Counter(dial_outcome(c) for c in calls)
    lines = [("targets", len(rows))] + [(f"  {k}", by_target[k]) for k in TARGET_OUTCOMES if by_target[k]]
    lines += [("dials", len(calls))] + [(f"  {label(k)}", by_dial[k]) for k in DIAL_OUTCOMES if by_dial[k]]
    lines += [("calls (dials answered)", by_dial["answered"] + by_dial["machine"] + by_dial["up"])]
    width = max(len(name) for name, _ in lines)
    return "\n".join(f"{name:<{width}}  {value:>6}" for name, value in lines)


def write_csv(calls: Sequence[Campaigncall], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_FIELDS)
        for c in calls:
            writer.writerow([c.id, c.outdial_target_id, c.destination.target, c.destination_index, c.try_count,
                             c.status, c.result, c.hangup_reason, c.amd_status, format_timestamp(c.tm_create),
                             format_timestamp(c.tm_update)])


def write_chart(calls: Sequence[Campaigncall], rows: Sequence[TargetRow], path: Path, title: str) -> None:
    """Left: finished dials over time, stacked by outcome (areas, so nothing overlaps); right: targets by
    outcome, each bar split by how many dials it took. Axes start at zero. Blocking: call from a thread."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    done = sorted((c for c in calls if c.status == "done"), key=lambda c: c.tm_update)
    start = min((c.tm_create for c in calls), default=datetime.now(UTC))
    span = max(((c.tm_update - start).total_seconds() for c in done), default=1.0)
    unit, per = ("minutes", 60.0) if span > 600 else ("seconds", 1.0)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=100, gridspec_kw={"width_ratios": [3, 2]})
    try:
        fig.suptitle(title, fontsize=13, fontweight="bold")
        end = span / per * 1.03 or 1.0
        times = [0.0] + [(c.tm_update - start).total_seconds() / per for c in done] + [end]
        outcomes = [k for k in DIAL_OUTCOMES if any(dial_outcome(c) == k for c in done)]
        stacks = []
        for k in outcomes:
            n, series = 0, [0]
            for c in done:
                n += dial_outcome(c) == k
                series.append(n)
            stacks.append([*series, n])  # held to the right edge
        if stacks:
            ax.stackplot(times, stacks, step="post", colors=[COLOURS[k] for k in outcomes],
                         labels=[f"{label(k)} ({s[-1]})" for k, s in zip(outcomes, stacks, strict=True)],
                         edgecolor="white", linewidth=0.5)
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles[::-1], labels[::-1], loc="upper left", title="dials", frameon=False)  # as stacked
        ax.set_title("finished dials over time, by outcome", fontsize=10)
        ax.set_xlabel(f"{unit} since {start:%Y-%m-%d %H:%M:%S} UTC")
        ax.set_ylabel("dials finished")
        ax.set_xlim(0, end)
        ax.set_ylim(0, max(len(done), 1) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)

        shown = [o for o in TARGET_OUTCOMES if any(r.outcome == o for r in rows)] or ["not yet"]
        most = max((r.tries for r in rows), default=0)
        lefts = [0] * len(shown)
        for tries in range(most + 1):
            widths = [sum(r.outcome == o and r.tries == tries for r in rows) for o in shown]
            if any(widths):
                bx.barh(shown, widths, left=lefts, color=[TARGET_COLOURS[o] for o in shown], edgecolor="white",
                        linewidth=1.5, hatch=HATCHES[min(tries, len(HATCHES) - 1)])
                lefts = [a + b for a, b in zip(lefts, widths, strict=True)]
        for y, total in enumerate(lefts):
            bx.text(total, y, f" {total}", va="center", fontsize=10, fontweight="bold")
        keys = [Patch(facecolor="#bbbbbb", edgecolor="white", hatch=HATCHES[min(n, len(HATCHES) - 1)],
                      label=f"{n} dial{'s' if n != 1 else ''}" if n < len(HATCHES) - 1 else f"{n}+ dials")
                for n in range(min(most, len(HATCHES) - 1) + 1) if any(r.tries == n for r in rows) or n == most]
        # right of the longest bar (xlim leaves that room), so it never covers a bar
        bx.legend(handles=keys, title="dials per target", loc="center right", frameon=False, fontsize=8,
                  title_fontsize=8)
        bx.set_title(f"{len(rows)} targets by outcome", fontsize=10)
        bx.set_xlabel("targets")
        bx.set_xlim(0, max(max(lefts), 1) * 1.45)
        bx.xaxis.set_major_locator(MaxNLocator(integer=True))
        bx.invert_yaxis()
        bx.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
