"""The package's floors (DESIGN.md): every import in flowengine/ goes to its own floor or lower."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flowengine

PACKAGE = Path(flowengine.__file__).parent

FLOORS: dict[str, int] = {
    "media": 0, "providers": 0, "store": 0, "config": 0, "events": 0, "logs": 0, "heap": 0, "tenancy": 0,
    "tasks": 0, "telemetry": 0,
    "asterisk": 1,
    "flow": 2,
    "ai": 3,
    "campaign": 4,
    "api": 5,
    "runtime": 6,
    "bench": 7,
    "doctor": 6,
    "cli": 8,
}
"""Top-level modules and packages of flowengine, lowest first; a module imports only its floor or lower."""

FRONT_DOORS = ("voipbin", "vapi", "voiceos")
API_COMPOSITION = {"flowengine.api.app"}
"""The one module of api's core that may import the front doors: it mounts their routers."""


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, imported module) for every runtime import of flowengine modules in `path`, relative ones
    resolved, function-level ones included, `if TYPE_CHECKING:` blocks left out."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_lines(tree)
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or node.lineno in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            names = [".".join([*base, node.module] if node.module else base)]
        else:
            names = [node.module or ""]
        if isinstance(node, ast.ImportFrom):  # `from flowengine.api import vapi`: the submodule counts
            names = [f"{names[0]}.{alias.name}" for alias in node.names] or names
        found += [(node.lineno, name) for name in names if name.startswith("flowengine.")]
    return found


def _top(module: str) -> str:
    return module.split(".")[1]


def upward_edges(root: Path = PACKAGE) -> list[str]:
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        if module == "flowengine":
            continue
        floor = FLOORS.get(_top(module))
        if floor is None:
            problems.append(f"{path}: flowengine.{_top(module)} has no floor in tests/test_layers.py")
            continue
        for line, target in imports_of(path, root):
            if FLOORS.get(_top(target), -1) > floor:
                problems.append(f"{path}:{line}: {module} (floor {floor}) imports {target} "
                                f"(floor {FLOORS[_top(target)]})")
            problems += _api_edge(path, line, module, target)
    return problems


def _api_edge(path: Path, line: int, module: str, target: str) -> list[str]:
    """Inside api/: the shared core imports no front door (app.py mounts them), a front door no other."""
    if not (module.startswith("flowengine.api") and target.startswith("flowengine.api.")):
        return []
    door = module.split(".")[2] if module.count(".") >= 3 else None
    target_door = target.split(".")[2]
    if target_door not in FRONT_DOORS or target_door == door or module in API_COMPOSITION:
        return []
    return [f"{path}:{line}: {module} imports the {target_door} front door ({target})"]


def test_no_module_imports_a_higher_floor() -> None:
    assert upward_edges() == []


@pytest.mark.parametrize("source, expected", [
    ("from flowengine.api.errors import bad_request\n", ("flowengine/flow/bad.py:1: flowengine.flow.bad (floor 2) "
                                                         "imports flowengine.api.errors.bad_request (floor 5)")),
    ("def f():\n    import flowengine.ai.aicall\n", ("flowengine/flow/bad.py:2: flowengine.flow.bad (floor 2) "
                                                    "imports flowengine.ai.aicall (floor 3)")),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flowengine.ai import aicall\n", None),
    ("from flowengine.media import clock\n", None),
])
def test_the_check_finds_an_upward_import(tmp_path: Path, source: str, expected: str | None) -> None:
    root = tmp_path / "flowengine"
    (root / "flow").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "flow" / "__init__.py").write_text("")
    (root / "flow" / "bad.py").write_text(source)
    problems = [p.replace(f"{tmp_path}/", "") for p in upward_edges(root)]
    assert problems == ([expected] if expected else [])


def test_a_front_door_importing_another_is_found(tmp_path: Path) -> None:
    assert _api_edge(tmp_path, 3, "flowengine.api.vapi.routes", "flowengine.api.voiceos.views")
    assert _api_edge(tmp_path, 3, "flowengine.api.webhooks", "flowengine.api.voipbin.flows")
    assert not _api_edge(tmp_path, 3, "flowengine.api.app", "flowengine.api.voipbin.flows")
    assert not _api_edge(tmp_path, 3, "flowengine.api.vapi.routes", "flowengine.api.vapi.hooks")
    assert not _api_edge(tmp_path, 3, "flowengine.api.vapi.routes", "flowengine.api.errors")
