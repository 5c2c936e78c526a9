"""The OpenAPI schema and its Swagger UI describe the API."""

from __future__ import annotations

import pytest
import yaml

from tests.api import client_for

pytestmark = pytest.mark.django_db


def test_schema_describes_every_api_route():
    response = client_for(None).get("/api/schema/")
    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    for path in [
        "/api/projects/",
        "/api/projects/{slug}/",
        "/api/projects/{project_slug}/members/{id}/",
        "/api/projects/{project_slug}/targets/{id}/",
        "/api/projects/{project_slug}/value-estimates/{id}/",
        "/api/projects/{project_slug}/deliverables/{kind}/request-changes/",
        "/api/projects/{project_slug}/timeline/",
        "/api/projects/{project_slug}/revisions/{number}/",
        "/api/projects/{project_slug}/exports/",
        "/api/jobs/{id}/cancel/",
    ]:
        assert path in paths
    create = paths["/api/projects/"]["post"]
    assert "ProjectCreate" in str(create["requestBody"])
    assert "201" in create["responses"]


def test_swagger_ui_is_served():
    assert client_for(None).get("/api/docs/").status_code == 200
