"""The engine's GC policy: start-up objects are frozen, so later full collections skip them."""
from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json, time
from flowengine import heap
junk = [[i] for i in range(200_000)]  # live start-up objects (a loaded model's worth)
cycle = []
cycle.append(cycle)
del cycle  # garbage: the collection before freezing must take it, not the freeze
before = gc.get_freeze_count()
settled = heap.settle()
t = time.perf_counter(); gc.collect(); after_ms = (time.perf_counter() - t) * 1000
late = heap.settle(collect=False, reason="warm-up")
print(json.dumps({"before": before, "frozen": settled.frozen, "collect_ms": settled.collect_ms,
                  "late": late.frozen, "late_ms": late.collect_ms, "tracked": len(gc.get_objects())}))
"""


def test_settle_freezes_what_start_up_made_and_full_collections_skip_it() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(out.stdout)
    assert report["before"] == 0
    assert report["frozen"] >= 200_000 and report["collect_ms"] > 0
    # What a later full collection still walks: only what was made after the freeze.
    assert report["tracked"] < 1_000
    assert report["late"] >= report["frozen"] and report["late_ms"] == 0.0
