"""The doctor's report (ok unless a check failed, lines people read, JSON keys) and its Asterisk version rule."""
from __future__ import annotations

from flowengine.doctor.asterisk import has_external_media
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


def test_external_media_needs_asterisk_16_6() -> None:
    assert has_external_media("16.28.0~dfsg-0+deb11u10") and has_external_media("20.5.0")
    assert has_external_media("certified/18.9-cert5") and has_external_media("GIT-master-abc123")
    assert not has_external_media("16.5.1") and not has_external_media("13.38.3")
