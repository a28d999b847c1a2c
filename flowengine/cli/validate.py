"""`flowengine validate FILE...`: check flow files and print one `FILE:LINE:COL: message` per problem."""
from __future__ import annotations

import argparse
import sys

from flowengine.flow.loader import check_file
from flowengine.flow.problems import Problem, sorted_problems


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "validate",
        help="check flow files (YAML or JSON)",
        description=(
            "Check flow files and print one FILE:LINE:COL: message line per problem. Exit 0 when"
            " every file is valid (warnings do not count), 1 otherwise."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="flow file (.yaml, .yml or .json)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems: list[Problem] = []
    failed = False
    for name in args.files:
        report = check_file(name)
        failed = failed or not report.ok
        problems.extend(report.errors)
        if not args.quiet:
            problems.extend(report.warnings)
    for problem in sorted_problems(problems):
        print(problem.format(), file=sys.stdout)
    return 1 if failed else 0
