"""Entry point of the `flowengine` command: one subcommand per module of this package."""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines `add_parser(subparsers)`, which registers its subcommand and sets
# `func=<callable(args) -> int>` as the parser default.
COMMAND_MODULES: tuple[str, ...] = ("asterisk", "serve", "demo", "validate", "schema", "bench", "keys", "customers", "openapi", "campaign")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowengine",
        description="IVR/flow engine and AI voice-agent runtime for Asterisk.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"flowengine.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
