"""AI teams: members and transitions round-trip and update as a whole."""
from __future__ import annotations

from flowengine.store import Store, Team, TeamMember, TeamTransition
from tests.store.conftest import new_customer

AI_1 = "6f7a8b9c-0d1e-4345-8012-345678901234"
AI_2 = "7f7a8b9c-0d1e-4345-8012-345678901234"


async def test_members_round_trip(store: Store) -> None:
    customer_id = await new_customer(store)
    members = [
        TeamMember(
            id="front",
            name="Receptionist",
            ai_id=AI_1,
            transitions=[TeamTransition(function_name="to_billing", description="billing", next_member_id="bill")],
        ),
        TeamMember(id="bill", name="Billing", ai_id=AI_2),
    ]
    team = await store.teams.create(
        Team(customer_id=customer_id, name="desk", start_member_id="front", members=members, parameter={"lang": "en"})
    )
    got = await store.teams.get(customer_id, team.id)
    assert got == team and got.members[0].transitions[0].next_member_id == "bill"
    updated = await store.teams.update(customer_id, team.id, members=members[1:], start_member_id="bill")
    assert (await store.teams.get(customer_id, team.id)) == updated and len(updated.members) == 1
