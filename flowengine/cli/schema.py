"""`flowengine schema`: print the JSON Schema of flow documents (for editors)."""
from __future__ import annotations

import argparse
import json
import sys

from flowengine.flow.schema import flow_schema


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "schema",
        help="print the JSON Schema of flow documents",
        description=(
            "Print the JSON Schema (draft 2020-12) of flow documents. Point your editor at it"
            " (e.g. '# yaml-language-server: $schema=flow.schema.json') to complete action"
            " types and their option names."
        ),
    )
    parser.add_argument("--compact", action="store_true", help="print on one line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    indent = None if args.compact else 2
    json.dump(flow_schema(), sys.stdout, indent=indent, sort_keys=False)
    sys.stdout.write("\n")
    return 0
