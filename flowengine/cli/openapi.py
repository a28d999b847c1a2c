"""`flowengine openapi`: prints the REST API's OpenAPI document."""
from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("openapi", help="print the REST API's OpenAPI document (JSON)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flowengine.api.app import create_app
    from flowengine.api.deps import ApiDeps

    app = create_app(ApiDeps(store=None))  # type: ignore[arg-type]  # the document needs no store
    print(json.dumps(app.openapi(), indent=2))
    return 0
