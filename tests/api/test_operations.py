"""Operations: the schema check at start-up, /health, migrations against the models, the committed OpenAPI."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from alembic import command
from litestar.testing import AsyncTestClient

from channels.inbound import InboundContent
from gateway.app import create_app, openapi_json
from gateway.lib.db import SchemaBehind, alembic_config
from gateway.migrate import downgrade, upgrade
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_is_current():
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert committed == openapi_json(), "openapi/openapi.json is stale: run `make openapi`"


def test_models_match_migrations(database_url):
    """A model change without its migration fails here (tables, columns, indexes, constraints)."""
    command.check(alembic_config(make_settings(database_url)))


async def test_app_refuses_to_start_on_an_unmigrated_database(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(BaseException) as raised:  # Litestar's lifespan wraps it in an exception group
        async with AsyncTestClient(app=create_app(settings)):
            pass
    group = raised.value
    found = group.exceptions if isinstance(group, BaseExceptionGroup) else (group,)
    assert any(isinstance(error, SchemaBehind) and "run `gateway migrate`" in str(error) for error in found), found


def test_serve_refuses_to_start_on_an_unmigrated_database(tmp_path):
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "GATEWAY_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gateway"), "serve", "--port", "8999"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "run `gateway migrate`" in result.stderr
    assert "Uvicorn running" not in result.stderr


async def test_health_is_503_when_the_schema_falls_behind(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'gateway.db'}")
    upgrade(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/health")).status_code == 200
        downgrade(settings, "base")
        response = await client.get("/health")
        assert response.status_code == 503
        assert "gateway migrate" in response.json()["database"]
        upgrade(settings)
        assert (await client.get("/health")).status_code == 200


async def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'gateway.db'}")
    upgrade(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await client.app.state.runtime.engine.dispose()
        database = tmp_path / "gateway.db"
        for _ in range(100):  # the embedded worker's loops may open (so create) it again, from aiosqlite's thread
            database.unlink(missing_ok=True)
            with contextlib.suppress(FileExistsError):
                database.mkdir()  # a directory where the file was: SQLite can't open it
                break
        assert database.is_dir()
        response = await client.get("/health")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"


async def test_the_sandbox_providers_can_be_turned_off(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'gateway.db'}", sandbox_enabled=False)
    upgrade(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.post("/sandbox/sms/sms", json={})).status_code == 404
        assert (await client.post("/callbacks/sms/x", json={})).status_code != 404  # callbacks stay


async def test_each_process_builds_only_what_it_serves(database_url, tmp_path):
    """The API without the embedded worker builds no dispatcher, deliverer, failover timers or provider
    client (gateway.runtime makes each part when first used); the embedded mode builds them."""
    worker_parts = {"dispatcher", "deliverer", "failover_timers", "provider_http"}
    app = create_app(make_settings(database_url, worker_in_server=False))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/health")).status_code == 200
        assert worker_parts.isdisjoint(vars(app.state.runtime)), sorted(vars(app.state.runtime))
    # On a database of its own: the loops find no message other tests left due, to send to no server.
    empty = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(make_settings(empty))
    app = create_app(make_settings(empty, worker_in_server=None))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/health")).status_code == 200
        assert worker_parts <= set(vars(app.state.runtime))


def test_inbound_content_is_typed_by_its_type_in_the_document():
    """GET Message's content and the UserMessage payload's are channels.inbound's contents: one schema per
    type, each tag mapped to the schema of its own type (Litestar renames a Struct whose name another has)."""
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    schemas = document["components"]["schemas"]
    content = schemas["MessageDetail"]["properties"]["content"]
    mapping = content["discriminator"]["mapping"]
    assert content["discriminator"]["propertyName"] == "type" and len(mapping) == len(get_args(InboundContent))
    for tag, ref in mapping.items():
        assert schemas[ref.rsplit("/", 1)[1]]["properties"]["type"]["const"] == tag
    assert {"$ref": mapping["document"]} in content["oneOf"] and {"type": "null"} in content["oneOf"]
    payload = document["webhooks"]["UserMessage"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    options = payload["properties"]["content"]["oneOf"]
    assert sorted(option["properties"]["type"]["enum"][0] for option in options) == sorted(mapping)
