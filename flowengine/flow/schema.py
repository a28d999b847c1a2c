"""The JSON Schema of flow documents, for editors: actions are a union discriminated on `type`."""
from __future__ import annotations

import copy
from typing import Any, get_args

from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.model import IGNORED_ACTION_FIELDS, IGNORED_FLOW_FIELDS, FlowType
from flowengine.flow.registry import ActionRegistry, ActionSpec

SCHEMA_ID = "https://flowengine.dev/schemas/flow.json"
_REF = "#/$defs/{model}"
TEMPLATE = {
    "type": "string",
    "pattern": r"\$\{",
    "description": "A ${variable} expression; its value is checked when the action runs.",
}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _defs_name(spec: ActionSpec) -> str:
    return spec.options.__name__


def _allow_templates(node: dict[str, Any]) -> None:
    """Let every non-plain-string property also take a `${...}` string (substituted at run time),
    and optional ones `null` (which means "not given")."""
    required = set(node.get("required", []))
    for name, prop in list(node.get("properties", {}).items()):
        outer = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
        choices = [c for c in prop["anyOf"] if c != {"type": "null"}] if list(prop) == ["anyOf"] else [prop]
        plain = prop.get("type") == "string" and not ({"enum", "const", "pattern"} & prop.keys())
        if not plain:
            choices.append({"$ref": "#/$defs/Template"})
        if name not in required:
            choices.append({"type": "null"})
        node["properties"][name] = {**outer, "anyOf": choices} if len(choices) > 1 else {**outer, **prop}


def _action_variant(spec: ActionSpec, defs: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(spec.options.model_json_schema(by_alias=True, ref_template=_REF))
    for name, sub in schema.pop("$defs", {}).items():
        _allow_templates(sub)
        defs[name] = sub
    _allow_templates(schema)
    if spec.name == "call":
        actions = schema["properties"]["actions"]["anyOf"][0]
        actions["items"] = {"$ref": "#/$defs/Action"}
    defs[_defs_name(spec)] = schema
    option_ref = {"$ref": _REF.format(model=_defs_name(spec))}
    properties: dict[str, Any] = {
        "id": {**_NULLABLE_STRING, "description": "Unique id (any string); a UUID is made when omitted."},
        "next_id": {**_NULLABLE_STRING, "description": "Id of the action to run next."},
        "type": {"const": spec.name},
        "option": option_ref if schema.get("required") else {"anyOf": [option_ref, {"type": "null"}]},
    }
    properties.update({name: {} for name in sorted(IGNORED_ACTION_FIELDS)})
    return {
        "type": "object",
        "title": spec.name,
        "description": spec.summary,
        "properties": properties,
        "required": ["type", "option"] if schema.get("required") else ["type"],
        "additionalProperties": False,
    }


def flow_schema(registry: ActionRegistry = ACTIONS) -> dict[str, Any]:
    """JSON Schema (2020-12) of a flow document; unsupported action types are left out."""
    defs: dict[str, Any] = {"Template": TEMPLATE}
    mapping: dict[str, str] = {}
    variants: list[dict[str, Any]] = []
    for spec in registry.supported():
        variant_name = f"action_{spec.name}"
        defs[variant_name] = _action_variant(spec, defs)
        mapping[spec.name] = f"#/$defs/{variant_name}"
        variants.append({"$ref": mapping[spec.name]})
    defs["Action"] = {
        "oneOf": variants,
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    properties: dict[str, Any] = {
        "id": _NULLABLE_STRING,
        "name": {"type": "string", "description": "Name of the flow."},
        "detail": _NULLABLE_STRING,
        "type": {"enum": [*get_args(FlowType), None]},
        "variables": {
            "type": ["object", "null"],
            "description": "Initial variables of every activeflow of this flow.",
            "propertyNames": {"not": {"pattern": "^[vV][oO][iI][pP][bB][iI][nN]\\."}},
        },
        "on_complete_flow_id": {**_NULLABLE_STRING, "description": "Flow started when this one ends."},
        "actions": {"type": "array", "items": {"$ref": "#/$defs/Action"}},
    }
    properties.update({name: {} for name in sorted(IGNORED_FLOW_FIELDS)})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "flowengine flow",
        "type": "object",
        "properties": properties,
        "required": ["name", "actions"],
        "additionalProperties": False,
        "$defs": defs,
    }
