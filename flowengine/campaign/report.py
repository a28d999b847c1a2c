"""Campaign reports: an outcome table, a CSV of every campaigncall, a PNG of outcomes over time."""
from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from flowengine.campaign.results import tally
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.timestamps import format_timestamp

CSV_FIELDS = ("id", "outdial_target_id", "destination", "destination_index", "try_count", "status", "result",
              "hangup_reason", "amd_status", "tm_create", "tm_update")


def table(calls: Sequence[Campaigncall]) -> str:
    """Outcome counts as aligned text rows."""
    counts = tally(calls)
    rows = [("calls", counts.get("calls", 0)), ("success", counts.get("success", 0)),
            ("fail", counts.get("fail", 0)), ("in progress", counts.get("in_progress", 0)),
            ("machine (AMD)", counts.get("machine", 0))]
    rows += sorted((f"  {k.removeprefix('reason:')}", v) for k, v in counts.items() if k.startswith("reason:"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>6}" for name, value in rows)


def write_csv(calls: Sequence[Campaigncall], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_FIELDS)
        for c in calls:
            writer.writerow([c.id, c.outdial_target_id, c.destination.target, c.destination_index, c.try_count,
                             c.status, c.result, c.hangup_reason, c.amd_status, format_timestamp(c.tm_create),
                             format_timestamp(c.tm_update)])


def write_chart(calls: Sequence[Campaigncall], path: Path, title: str) -> None:
    """Cumulative finished campaigncalls by hangup reason against time (blocking: call from a thread)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    done = sorted((c for c in calls if c.status == "done"), key=lambda c: c.tm_update)
    reasons = sorted({c.hangup_reason or "unknown" for c in done})
    start = min((c.tm_create for c in calls), default=datetime.now(UTC))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for reason in reasons:
            times = [(c.tm_update - start).total_seconds() for c in done if (c.hangup_reason or "unknown") == reason]
            ax.step(times, range(1, len(times) + 1), where="post", label=reason)
        ax.set_title(title)
        ax.set_xlabel(f"seconds since {format_timestamp(start)} UTC")
        ax.set_ylabel("campaigncalls finished")
        if reasons:
            ax.legend(loc="upper left")
        fig.autofmt_xdate()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
