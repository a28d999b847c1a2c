"""Entry point of the `flowengine` command: one subcommand per module of this package."""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines `add_parser(subparsers)`, which registers its subcommand and sets
# `func=<callable(args) -> int>` as the parser default.
COMMAND_MODULES: tuple[str, ...] = ("asterisk", "serve", "demo", "validate", "schema", "bench", "keys", "customers", "openapi", "campaign", "providers", "kamailio", "doctor", "calls")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of `command` alone when it is one (its module is the only one imported: `serve` pulls in the
    whole engine, `validate` must start in a blink), else of every command (for --help and usage errors)."""
    parser = argparse.ArgumentParser(
        prog="flowengine",
        description="IVR/flow engine and AI voice-agent runtime for Asterisk.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in (command,) if command in COMMAND_MODULES else COMMAND_MODULES:
        module = importlib.import_module(f"flowengine.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    command = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(args_in)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
