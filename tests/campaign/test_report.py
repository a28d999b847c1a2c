"""Campaign counts and reports keep targets, dials and calls apart; the HTML report is self-contained."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowengine.campaign.html_report import render_html
from flowengine.campaign.progress import count, render
from flowengine.campaign.report import per_target, table, write_chart
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.outdials import OutdialTarget
from flowengine.store.outplans import Outplan
from flowengine.store.records import Address

CUSTOMER, CAMPAIGN, OUTDIAL = (str(uuid.uuid4()) for _ in range(3))
T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def target(name: str, status: str = "done", tries: int = 0) -> OutdialTarget:
    return OutdialTarget(id=str(uuid.uuid4()), customer_id=CUSTOMER, outdial_id=OUTDIAL, name=name, status=status,
                         destination_0=Address(type="extension", target=name), try_count_0=tries)


def dial(t: OutdialTarget, reason: str, at: int, status: str = "done") -> Campaigncall:
    return Campaigncall(id=str(uuid.uuid4()), customer_id=CUSTOMER, campaign_id=CAMPAIGN, outdial_target_id=t.id,
                        status=status, result=("success" if reason == "normal" else "fail") if status == "done" else "",
                        hangup_reason=reason, destination=t.destination_0 or Address(), tm_create=T0 + timedelta(
                            seconds=at), tm_update=T0 + timedelta(seconds=at + 5))


def campaign() -> tuple[list[OutdialTarget], list[Campaigncall]]:
    ann, bob, cid, dee, eve = (target("ann", tries=1), target("bob", tries=2), target("cid", "progressing", 1),
                               target("dee", "idle", 1), target("eve", "idle"))
    calls = [dial(ann, "normal", 0), dial(bob, "busy", 1), dial(bob, "noanswer", 20), dial(cid, "", 30, "progressing"),
             dial(dee, "failed", 2)]
    return [ann, bob, cid, dee, eve], calls


def test_progress_counts_targets_dials_and_calls_apart() -> None:
    targets, calls = campaign()
    s = count(targets, calls, Outplan(id=str(uuid.uuid4()), customer_id=CUSTOMER, max_try_count_0=2), "run")
    assert (s.targets, s.reached, s.given_up, s.dialing, s.retrying, s.waiting) == (5, 1, 1, 1, 1, 1)
    assert (s.dials_made, s.calls) == (5, 2)  # ann's call and cid's call up now
    line = render(s, 75.0)
    assert line.startswith("targets 2/5 done: 1 reached, 1 not reached; 1 dialing, 1 to retry, 1 waiting")
    assert "dials 5: 1 answered, 1 busy, 1 no answer, 1 failed, 1 up" in line and "calls 2: 1 up, 1 ended" in line
    assert "ETA 01:15" in line


def test_report_rows_table_chart_and_html(tmp_path: Path) -> None:
    targets, calls = campaign()
    rows = per_target(targets, calls)
    assert [(r.name, r.outcome, r.dials) for r in rows] == [
        ("ann", "reached", ["answered"]), ("bob", "not reached", ["busy", "noanswer"]),
        ("dee", "not reached", ["failed"]), ("cid", "in progress", ["up"]), ("eve", "not yet", [])]
    text = table(calls, rows)
    assert "targets                      5" in text and "dials                        5" in text
    assert "calls (dials answered)       2" in text
    png = tmp_path / "chart.png"
    write_chart(calls, rows, png, "campaign test")
    html = render_html("campaign <test>", "run", calls, rows, png.read_bytes())
    assert "campaign &lt;test&gt;" in html and "data:image/png;base64," in html
    assert html.count("<tr><td>") == 5 and "2. no answer" in html
    assert "http" not in html.replace("data:image", "")  # nothing fetched: one file holds it all
