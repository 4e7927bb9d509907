"""The OpenAPI document, as committed in openapi/openapi.json (`make openapi`)."""

from __future__ import annotations

import json

from gateway.settings import Settings


def openapi_json() -> str:
    from gateway.app import create_app

    # Fixed settings: the document must not depend on the environment it is generated in.
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:", jwt_keys=("x" * 32,), secret_keys=("x",), admin_token="x"
    )
    schema = create_app(settings).openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
