"""`${voipbin.flow.reference_data}` on a real call: the JSON of the call's webhook object as it stands."""
from __future__ import annotations

import json
from pathlib import Path

from flowengine.asterisk.ari.client import AriClient
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.conftest import Asterisk
from tests.flow.calls import place_call
from tests.flow.test_dialled_records import recorded
from tests.support import eventually


async def test_reference_data_is_the_calls_webhook_object(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with recorded(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"type": "sleep", "option": {"duration": 300}},  # the answer is stored (progressing)
            {"id": "keep", "type": "variable_set", "option": {"key": "ref", "value": "${voipbin.flow.reference_data}"}},
            {"type": "hangup"},
        ]})
        await place_call(ari)
        master = await h.master()
        await eventually(lambda: any(af.reference_id == master.id and af.status == "ended"
                                     for af in h.activeflows.values()), timeout=30, what="the call's flow ended")
        [af] = [af for af in h.activeflows.values() if af.reference_id == master.id]
        ref = json.loads(af.variables["ref"])
        stored = await h.store.calls.get(ENGINE_CUSTOMER_ID, master.id)
        assert ref["id"] == master.id and ref["activeflow_id"] == af.id and ref["status"] == "progressing"
        assert ref["direction"] == "incoming" and ref["customer_id"] == ENGINE_CUSTOMER_ID
        assert "channel_id" not in ref  # the webhook object, not the record
        assert ref["source"] == stored.source.model_dump(mode="json")
        assert ref["tm_progressing"] != "9999-01-01 00:00:00.000000"
        created = next(e for e in h.call_events(master.id) if e.type == "call_created")
        assert set(ref) == set(created.data)
