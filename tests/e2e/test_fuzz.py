"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every generated request must get a non-5xx answer that matches what the document
promises (status codes, content types, bodies). Bounded by ``max_examples`` so the
run stays within a few minutes.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.conftest import RUN_DATABASE_URL
from tests.e2e.conftest import NO_LIMITS, PASSWORD, new_email

# Schemathesis needs the schema at import time, before the run's database exists;
# the app points at that database by name and connects only once it is started, after
# the `database_url` fixture has created it. So the schema is read from the app object,
# not served (serving would start the app, whose housekeeping connects at once: a
# pooler in front then refuses that database for a while, as PgBouncer does).
app = create_app(
    Container(
        settings=Settings(database_url=RUN_DATABASE_URL, migrate_on_startup=False, **NO_LIMITS)
    )
)
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app


@pytest.fixture(scope="module")
def auth_headers(database_url: str) -> Iterator[dict[str, str]]:
    assert database_url == RUN_DATABASE_URL
    with TestClient(app) as client:
        token = client.post(
            "/auth/register", json={"email": new_email(), "password": PASSWORD}
        ).json()["access_token"]
        yield {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_keeps_its_contract(case: Any, auth_headers: dict[str, str]) -> None:
    # Two checks are off. Business rules the schema cannot express (common passwords,
    # blank messages, a taken email) rightly refuse some schema-valid bodies; and,
    # like most HTTP APIs, unknown query parameters are ignored rather than refused.
    case.call_and_validate(
        headers=auth_headers, excluded_checks=[positive_data_acceptance, negative_data_rejection]
    )
