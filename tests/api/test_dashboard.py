"""docker/grafana/flowengine-dashboard.json: every expression parses and names only metrics /metrics exports (the
names come from the engine's registry), with the label names those metrics carry; every section is there."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import Counter, Histogram

from flowengine.api import instruments
from flowengine.api.deps import ApiDeps
from flowengine.api.metrics import node_metrics, registry_for
from flowengine.media.clock import MediaClock
from flowengine.store import Store

DASHBOARD = Path(__file__).parents[2] / "docker" / "grafana" / "flowengine-dashboard.json"
SECTIONS = ("Nodes", "Call volume", "Turn latency", "Provider health", "Media health", "Webhooks", "Campaigns")

FUNCTIONS = {"sum", "min", "max", "avg", "count", "topk", "bottomk", "rate", "irate", "increase", "delta",
             "histogram_quantile", "clamp_min", "clamp_max", "abs", "vector", "scalar"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
SCRAPE_LABELS = {"instance", "job"}
"""What Prometheus adds to every series it scrapes (per node: `instance`)."""
GROUPING = re.compile(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*$')
RANGE = re.compile(r"\[(\$__rate_interval|\$__range|\d+[smhdw])\]")


def exported(deps: ApiDeps) -> dict[str, set[str]]:
    """Sample name -> its label names, for every family /metrics serves: the engine's collector (samples even
    without an engine) and the shared instruments (declared label names: a labelled family has no sample before
    its first event)."""
    names: dict[str, set[str]] = {}
    registry = registry_for(deps, None, MediaClock())
    for family in [*registry.collect(), *node_metrics("node-a", "flowengine")]:  # the node's: with an engine only
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(k for k in sample.labels if k != "le")
    for metric in vars(instruments.shared()).values():
        for one in metric.values() if isinstance(metric, dict) else [metric]:
            if not isinstance(one, Counter | Histogram):
                continue
            labels = set(one._labelnames)  # declared, so known before the first event
            for family in one.describe():
                for suffix in {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}[family.type]:
                    names.setdefault(family.name + suffix, set()).update(labels)
    return names


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every panel target, nested rows included, and the templating queries."""
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            found.extend((panel["title"], t["expr"]) for t in panel.get("targets", []))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    found.extend((v["name"], v["query"]["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query")
    return found


def metric_uses(expr: str) -> list[tuple[str, set[str]]]:
    """The metrics an expression reads and the label names it matches or groups by, or AssertionError when it
    does not parse: unbalanced brackets, an unknown function, a malformed matcher, a stray word."""
    variable = re.fullmatch(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)", expr)
    if variable:  # Grafana's query of a variable's values, not PromQL
        return [(variable.group(1), {variable.group(2)})]
    assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
    grouping = {label.strip() for _, labels in GROUPING.findall(expr) for label in labels.split(",") if label.strip()}
    rest = GROUPING.sub(" ", expr)
    uses: list[tuple[str, set[str]]] = []
    for name, matchers in SELECTOR.findall(rest):
        labels = set()
        for matcher in filter(str.strip, matchers.split(",")):
            parsed = MATCHER.match(matcher)
            assert parsed, f"bad label matcher {matcher!r} in {expr}"
            labels.add(parsed.group(1))
        assert name, f"a selector without a metric name in {expr}"
        uses.append((name, labels | grouping))
    rest = RANGE.sub(" ", SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", rest))
    assert "[" not in rest and "]" not in rest, f"bad range in {expr}"
    for word, call in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\(?)", rest):
        if call:
            assert word in FUNCTIONS, f"unknown function {word} in {expr}"
        elif word not in KEYWORDS and word not in {n for n, _ in uses}:
            uses.append((word, grouping))
    leftover = re.sub(r"[A-Za-z_:][A-Za-z0-9_:]*|\d+(\.\d+)?|[()+\-*/,\s]", "", rest)
    assert not leftover, f"unparsed {leftover!r} in {expr}"
    return uses


@pytest.fixture
def deps(store: Store) -> ApiDeps:
    return ApiDeps(store=store)


def test_every_expression_names_an_exported_metric_and_its_labels(deps: ApiDeps) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = exported(deps)
    assert "flowengine_calls_started_total" in names and "flowengine_rtp_packets_total" in names
    used: set[str] = set()
    for title, expr in expressions(dashboard):
        uses = metric_uses(expr)
        assert uses, (title, expr)
        for metric, labels in uses:
            assert metric in names, f"{title}: {metric} is not exported ({expr})"
            unknown = labels - names[metric] - SCRAPE_LABELS - {"le"}
            assert not unknown, f"{title}: {metric} has no label {unknown} ({expr})"
            used.add(metric)
    assert len(used) >= 30  # the dashboard reads most of what is exported


def test_the_dashboard_has_every_section_and_a_node_choice() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == list(SECTIONS)
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "instance"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("expr", [
    "sum(rate(flowengine_calls_started_total[5m]",  # unbalanced
    'rate(flowengine_calls_started_total{direction~"in"}[5m])',  # bad matcher
    "sum(rat(flowengine_calls_started_total[5m]))",  # unknown function
    "rate(flowengine_calls_started_total[5 m])",  # bad range
])
def test_the_check_finds_a_broken_expression(expr: str) -> None:
    with pytest.raises(AssertionError):
        metric_uses(expr)


def test_the_check_finds_a_metric_that_is_not_exported(deps: ApiDeps) -> None:
    names = exported(deps)
    [(metric, labels)] = metric_uses('sum by (provider) (rate(flowengine_provider_request_total{kind="llm"}[5m]))')
    assert metric not in names and labels == {"provider", "kind"}
    [(metric, labels)] = metric_uses("sum by (cause) (rate(flowengine_rtp_packets_total[5m]))")
    assert metric in names and labels - names[metric] == {"cause"}
