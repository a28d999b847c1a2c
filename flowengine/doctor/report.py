"""One check's outcome (ok, failed with its fix, or skipped because an earlier check failed) and the report."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class Check:
    """`name` is stable (scripts key on it); `detail` says what was found, `fix` what to change when it failed."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @classmethod
    def ok(cls, name: str, detail: str) -> Check:
        return cls(name, "ok", detail)

    @classmethod
    def failed(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name, "failed", detail, fix)

    @classmethod
    def skipped(cls, name: str, because: str) -> Check:
        return cls(name, "skipped", f"not checked: {because}")


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "failed" for c in self.checks)

    def by_name(self) -> dict[str, Check]:
        return {c.name: c for c in self.checks}

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def lines(self) -> list[str]:
        """For people: one line per check, its fix indented under a failure."""
        out: list[str] = []
        for c in self.checks:
            out.append(f"{c.status.upper():<7} {c.name:<12} {c.detail}")
            if c.fix:
                out.append(f"{'':<20} fix: {c.fix}")
        out.append("all checks passed" if self.ok else f"{sum(c.status == 'failed' for c in self.checks)} check(s) failed")
        return out
