"""`flowengine validate FILE...`: check flow and AI files and print one `FILE:LINE:COL: message` per problem."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowengine.flow.checker import check_document
from flowengine.flow.errors import FlowSyntaxError
from flowengine.flow.problems import Problem, sorted_problems
from flowengine.flow.reader import read_file

if TYPE_CHECKING:
    from flowengine.ai.names import FileAINames

AI_FOLDER = "ais"
AI_ONLY_FIELDS = frozenset({"engine_model", "init_prompt", "tts_type", "stt_type", "engine_key_env", "tool_names"})
"""Fields of an AI file that no flow has: a mapping with one of them and no `actions` is checked as an AI."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "validate",
        help="check flow and AI files (YAML or JSON)",
        description=(
            "Check flow files and AI files (those in an 'ais' folder, or shaped like an AI) and print one"
            " FILE:LINE:COL: message line per problem. An ai_talk or ai_task must name an AI (or team) of the"
            " 'ais' ('teams') folder beside its flow or an AI file given here; a flow with neither beside it is"
            " not checked for them (its AIs are the API's). Exit 0 when every file is valid (warnings do not"
            " count), 1 otherwise."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="flow or AI file (.yaml, .yml or .json)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    parser.add_argument("--config", help="engine config whose speech.providers keys AI files may rely on "
                                         "(else the vendors' environment variables)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.config:
        from flowengine.config import ConfigError, load_config
        from flowengine.providers import credentials

        try:
            credentials.configure(load_config(args.config, need_asterisk=False).speech.accesses())
        except ConfigError as exc:
            print(f"flowengine validate: {exc}", file=sys.stderr)
            return 2
    paths = [Path(name) for name in args.files]
    flows: dict[Path, Any] = {}  # flow file -> its document, or the problems that kept it from parsing
    ai_files: list[Path] = []
    for path in paths:
        if path.parent.name == AI_FOLDER:
            ai_files.append(path)
            continue
        try:
            doc = read_file(path)
        except FlowSyntaxError as exc:
            flows[path] = exc.problems
            continue
        if _ai_shaped(doc.data):
            ai_files.append(path)
        else:
            flows[path] = doc
    names = _file_names(ai_files) if ai_files or any(_has_agent_folders(p) for p in flows) else None
    problems: list[Problem] = []
    for path in ai_files:
        assert names is not None
        problems.extend(names.check_ai(path)[1])
    for path, doc in flows.items():
        if isinstance(doc, list):
            problems.extend(doc)
            continue
        report = check_document(doc, ai_names=names.for_flow(path) if names is not None else None)
        problems.extend(report.errors + report.warnings)
    failed = any(p.is_error for p in problems)
    for problem in sorted_problems(problems):
        if problem.is_error or not args.quiet:
            print(problem.format(), file=sys.stdout)
    return 1 if failed else 0


def _ai_shaped(data: Any) -> bool:
    return isinstance(data, dict) and "actions" not in data and not AI_ONLY_FIELDS.isdisjoint(data)


def _has_agent_folders(flow: Path) -> bool:
    return (flow.parent / AI_FOLDER).is_dir() or (flow.parent / "teams").is_dir()


def _file_names(ai_files: list[Path]) -> FileAINames:
    # AIs pull in the provider catalogue and the store's models: only a run that meets AIs pays for them
    from flowengine.ai.names import FileAINames

    return FileAINames(ai_files)
