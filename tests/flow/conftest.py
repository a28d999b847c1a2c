"""Shared helpers of the flow tests: fixture paths and running the CLI subcommands."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "flows"


def _main(argv: list[str]) -> int:
    from flowengine.cli.main import main

    return main(argv)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run `flowengine ARGV...`; returns (exit code, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = _main(argv)
        except SystemExit as exc:  # --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue()
