"""What a customer's stored flow may name: the customer's own AIs and teams, the engine's files for the engine."""
from __future__ import annotations

from pathlib import Path

from flowengine.ai.definitions import AIDirectory
from flowengine.ai.names import customer_ai_names
from flowengine.flow.ainames import NamedAgent
from flowengine.store import AI, Customer, Store
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.store import conftest as store_fixtures

postgres = store_fixtures.postgres
backend = store_fixtures.backend
empty_url = store_fixtures.empty_url
empty_store = store_fixtures.empty_store

def ask(*ids: str) -> list[NamedAgent]:
    return [NamedAgent(("actions", i, "option", "assistance_id"), "ai", ai_id) for i, ai_id in enumerate(ids)]


async def test_an_ai_file_is_the_engines_and_a_stored_ai_its_customers(empty_store: Store, tmp_path: Path) -> None:
    (tmp_path / "receptionist.yaml").write_text("engine_model: rules.appointments\n")
    files = AIDirectory(tmp_path)
    files.scan()
    customer = (await empty_store.customers.create(Customer(name="tenant"))).id
    stored = await empty_store.ais.create(AI(customer_id=customer, name="mine", engine_model="rules.default"))
    theirs = await customer_ai_names(empty_store, customer, ask(stored.id, "receptionist", "nobody"), files=files)
    assert theirs.missing("ai", stored.id) is None
    assert theirs.missing("ai", "receptionist") == "AI 'receptionist' does not exist"  # not in its calls either
    engine = await customer_ai_names(empty_store, ENGINE_CUSTOMER_ID, ask(stored.id, "receptionist"), files=files)
    assert engine.missing("ai", "receptionist") is None
    assert engine.missing("ai", stored.id) is not None  # another customer's AI
