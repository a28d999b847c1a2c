"""/v1.0/teams: AI teams (members and transitions); the graph is checked before it is kept."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.errors import bad_request
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.store import NotFoundError, Team, TeamMember
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/teams", tags=["Team"])
TeamView = view_model(Team, "AIManagerTeam")


class TeamBody(Body):
    name: str = Field(max_length=255)
    detail: str = Field("", max_length=4096)
    start_member_id: str = Field(max_length=255)
    members: list[TeamMember] = Field(min_length=1, max_length=100)
    parameter: dict[str, Any] = Field(default_factory=dict)


async def checked(customer: str, deps: Deps, body: TeamBody) -> dict[str, Any]:
    """Member ids unique, the start member and every transition target listed, every AI the customer's."""
    ids = [m.id for m in body.members]
    for index, member in enumerate(body.members):
        if ids.index(member.id) != index:
            raise bad_request(f"member id {member.id!r} is used twice", f"members[{index}].id")
        for t_index, transition in enumerate(member.transitions):
            if transition.next_member_id not in ids:
                raise bad_request(f"transition to unknown member {transition.next_member_id!r}",
                                  f"members[{index}].transitions[{t_index}].next_member_id")
        await _own_ai(customer, deps, member.ai_id, f"members[{index}].ai_id")
    if body.start_member_id not in ids:
        raise bad_request(f"start_member_id {body.start_member_id!r} is not one of the members", "start_member_id")
    return body.model_dump()


async def _own_ai(customer: str, deps: Deps, ai_id: str, field: str) -> None:
    try:
        await deps.store.ais.get(customer, ai_id)
    except NotFoundError:
        raise bad_request(f"AI {ai_id!r} not found", field) from None


def team_view(team: Team) -> dict[str, Any]:
    return view(team)


@router.get("", response_model=PageOut[TeamView])  # type: ignore[valid-type]
async def list_teams(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.teams.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, team_view)


@router.post("", response_model=TeamView)
async def create_team(customer: CustomerId, deps: Deps, body: TeamBody) -> dict[str, Any]:
    fields = await checked(customer, deps, body)
    return _published(deps, "team_created", await deps.store.teams.create(Team(customer_id=customer, **fields)))


@router.get("/{id}", response_model=TeamView)
async def get_team(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return team_view(await deps.store.teams.get(customer, id))


@router.put("/{id}", response_model=TeamView)
async def update_team(customer: CustomerId, deps: Deps, id: ResourceId, body: TeamBody) -> dict[str, Any]:
    await deps.store.teams.get(customer, id)
    fields = await checked(customer, deps, body)
    return _published(deps, "team_updated", await deps.store.teams.update(customer, id, **fields))


@router.delete("/{id}", response_model=TeamView)
async def delete_team(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return _published(deps, "team_deleted", await deps.store.teams.delete(customer, id))


def _published(deps: Deps, kind: str, team: Team) -> dict[str, Any]:
    data = team_view(team)
    deps.events.emit(kind, team.customer_id, data)
    return data
