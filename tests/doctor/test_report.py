"""The doctor's report: ok unless a check failed (skipped ones follow a failure), lines people read, JSON keys."""
from __future__ import annotations

from flowengine.doctor.report import Check, Report


def test_report_fails_on_a_failed_check_only() -> None:
    report = Report([Check.ok("ari", "fine"), Check.skipped("rtp", "ARI failed")])
    assert report.ok
    report.checks.append(Check.failed("store", "not migrated", "start the engine once"))
    assert not report.ok
    assert report.as_dict() == {"ok": False, "checks": [
        {"name": "ari", "status": "ok", "detail": "fine", "fix": ""},
        {"name": "rtp", "status": "skipped", "detail": "not checked: ARI failed", "fix": ""},
        {"name": "store", "status": "failed", "detail": "not migrated", "fix": "start the engine once"}]}
    lines = report.lines()
    assert lines[2].startswith("FAILED  store") and lines[3].strip() == "fix: start the engine once"
    assert lines[-1] == "1 check(s) failed"
