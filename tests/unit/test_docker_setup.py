"""The docker set-up: `gateway init` writes the secrets into .env once and keeps them after; the compose
file requires the public URL, gives the gateway the worker's stop grace, keeps the image's HTTP health
check off the one-shot migrate container; the image holds every package. (Docker itself is not run here.)"""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dotenv import dotenv_values

from gateway.cli import INIT_SECRETS, main
from gateway.settings import Settings

ROOT = Path(__file__).parents[2]


def init(path: Path) -> str:
    result = CliRunner().invoke(main, ["init", "--env-file", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_gateway_init_writes_usable_secrets_readable_by_its_owner_only(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    output = init(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = dotenv_values(path)
    assert set(values) == set(INIT_SECRETS)
    assert not any(value in output for value in values.values())  # the names are printed, never a value
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.from_env()
    assert settings.jwt_keys == (values["GATEWAY_JWT_KEYS"],)
    assert settings.secret_keys == (values["GATEWAY_SECRET_KEY"],)
    assert settings.admin_token == values["GATEWAY_ADMIN_TOKEN"]
    assert not (tmp_path / "data").exists()  # nothing generated: the keys were all there


def test_gateway_init_keeps_what_is_there_and_adds_what_is_missing(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# ours\nGATEWAY_PUBLIC_URL=https://gw.example.com\nGATEWAY_JWT_KEYS=" + "k" * 40)  # no last \n
    path.chmod(0o644)
    init(path)
    first = dotenv_values(path)
    assert first["GATEWAY_JWT_KEYS"] == "k" * 40 and first["GATEWAY_PUBLIC_URL"] == "https://gw.example.com"
    assert first["GATEWAY_SECRET_KEY"] and first["GATEWAY_ADMIN_TOKEN"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "added nothing" in init(path)
    assert path.read_text() == text  # run again: the same keys, the stored credentials stay readable


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_requires_the_public_url_as_the_callback_url(compose):
    environment = compose["x-gateway-env"]
    for name in ("GATEWAY_PUBLIC_URL", "GATEWAY_CALLBACK_URL", "GATEWAY_JWT_KEYS", "GATEWAY_SECRET_KEY"):
        assert re.fullmatch(rf"\$\{{{name}:\?.+\}}", environment[name]), environment[name]
    for service in ("gateway", "worker", "migrate"):
        assert compose["services"][service]["environment"] is environment


def test_compose_gives_the_gateway_the_workers_stop_grace(compose):
    services = compose["services"]
    assert services["gateway"]["stop_grace_period"] == services["worker"]["stop_grace_period"] == "30s"


def test_the_migrate_container_has_no_http_health_check(compose):
    assert compose["services"]["migrate"]["healthcheck"] == {"disable": True}
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()  # what it would inherit


def test_the_image_holds_every_package_of_the_wheel():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = re.findall(r"^COPY (\S+) \./\1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert set(packages["packages"]) <= set(copied)


def test_the_readme_runs_gateway_init_before_compose():
    readme = (ROOT / "README.md").read_text()
    init_at = readme.index("gateway init --env-file /config/.env")
    assert init_at < readme.index("docker compose up -d", init_at)
