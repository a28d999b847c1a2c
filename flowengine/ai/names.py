"""The AIs and teams a flow may name, for the flow rules' `AINames` port: from AI and team files (`validate`)
and from what a customer has in the store and the engine's files (the API's save)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flowengine.ai.definitions import AIConfig, check_ai_file
from flowengine.ai.teams import AISource, TeamError, TeamSource, find_stored_team, load_team_file
from flowengine.flow.ainames import KnownAINames, NamedAgent
from flowengine.flow.problems import Problem
from flowengine.store import NotFoundError, Store
from flowengine.tenancy import ENGINE_CUSTOMER_ID

YAML = ("*.yaml", "*.yml")


def _files(folder: Path) -> list[Path]:
    return sorted(p for pattern in YAML for p in folder.glob(pattern)) if folder.is_dir() else []


class FileAINames:
    """AI and team files as `flowengine validate` sees them: each AI file read once, checked without the
    engine's environment; a flow may name the AIs of `<its folder>/ais/`, the teams of `<its folder>/teams/` and
    the AI files given on the command line."""

    def __init__(self, given: Iterable[Path] = ()) -> None:
        self.given = list(given)
        self._checked: dict[Path, tuple[AIConfig | None, list[Problem]]] = {}

    def check_ai(self, path: Path) -> tuple[AIConfig | None, list[Problem]]:
        key = path.resolve()
        if key not in self._checked:
            self._checked[key] = check_ai_file(path, environment=False)
        return self._checked[key]

    def for_flow(self, flow: Path) -> KnownAINames | None:
        """What the flow at `flow` may name; None when nothing is known (no ais/ beside it, no AI file given):
        its AIs are then the API's, out of reach here."""
        folder = flow.parent
        beside, team_files = _files(folder / "ais"), _files(folder / "teams")
        if not beside and not team_files and not self.given:
            return None
        ais: dict[str, AIConfig] = {}
        refused: dict[tuple[str, str], str] = {}
        for path in [*beside, *self.given]:
            config, _ = self.check_ai(path)
            if config is None:
                refused["ai", path.stem] = f"{path} has errors"
            else:
                ais[path.stem] = ais[config.ai.id] = config
        teams: set[str] = set()
        for path in team_files:
            try:
                team = load_team_file(path, ais)
            except TeamError as exc:
                refused["team", path.stem] = str(exc)
                continue
            teams |= {team.id, path.stem}
        others = [p for p in self.given if p.resolve().parent != (folder / "ais").resolve()]
        places = [f"in {folder / 'ais'}/"] if beside or not others else []
        places += ["among the AI files given"] if others else []
        return KnownAINames(frozenset(ais), frozenset(teams), " or ".join(places), f"in {folder / 'teams'}/", refused)


async def customer_ai_names(store: Store, customer_id: str, named: Iterable[NamedAgent], *,
                            files: AISource | None = None, teams: TeamSource | None = None) -> KnownAINames:
    """What a customer's stored flow may name, as the engine finds it when the flow runs: the customer's stored
    AIs (the engine's AI files too for the engine's own customer), the team files, the customer's and the
    engine's stored teams. Another customer's AI or team does not exist for this one."""
    ais: set[str] = set()
    found_teams: set[str] = set()
    for agent in named:
        name = agent.assistance_id
        if agent.assistance_type == "team":
            if (teams is not None and teams.get(name) is not None) or \
                    await find_stored_team(store, name, customer_id) is not None:
                found_teams.add(name)
            continue
        if customer_id == ENGINE_CUSTOMER_ID and files is not None and files.get(name) is not None:
            ais.add(name)
            continue
        try:
            await store.ais.get(customer_id, name)
        except (NotFoundError, ValueError):
            continue
        ais.add(name)
    return KnownAINames(frozenset(ais), frozenset(found_teams))
