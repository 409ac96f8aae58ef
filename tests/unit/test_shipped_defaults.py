"""What the shipped deployment files do before anyone edits them: safe defaults.

Read as Docker reads them (the compose file as YAML), without Docker.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrypoints.settings import InsecureSettings, Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_the_image_runs_in_production_mode() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile.rsplit("\nFROM ", 1)[1]  # the final stage is what runs
    assert re.search(r"^ENV\b.*\bAPP_ENV=production\b", runtime, re.MULTILINE)


# The API, and its replicas behind PgBouncer in the `scale` profile.
API_SERVICES = ("api", "api-replica")


@pytest.mark.parametrize("name", API_SERVICES)
def test_compose_runs_the_api_in_production_mode(compose: dict[str, Any], name: str) -> None:
    assert compose["services"][name]["environment"]["APP_ENV"] == "production"


@pytest.mark.parametrize("name", API_SERVICES)
def test_compose_takes_the_jwt_secret_from_the_environment_or_refuses(
    compose: dict[str, Any], name: str
) -> None:
    api = compose["services"][name]
    # ${VAR:?message}: Compose refuses to start when VAR is unset or empty.
    assert re.fullmatch(r"\$\{JWT_SECRET:\?.+\}", api["environment"]["JWT_SECRET"])
    assert "env_file" not in api  # the development .env is not injected into the container


def test_compose_publishes_postgres_and_the_api_on_this_machine_only(
    compose: dict[str, Any],
) -> None:
    for name in ("postgres", *API_SERVICES):
        published = _published(compose["services"][name])
        assert published, name
        assert all(port.startswith("127.0.0.1:") for port in published), (name, published)


def test_the_committed_development_secret_is_refused_in_production() -> None:
    # Compose also reads .env for ${JWT_SECRET}: that value must not start a production API.
    env = dict(line.split("=", 1) for line in (ROOT / ".env").read_text().splitlines() if line)
    settings = Settings(app_env="production", jwt_secret=env["JWT_SECRET"])
    with pytest.raises(InsecureSettings):
        settings.check_secrets()
