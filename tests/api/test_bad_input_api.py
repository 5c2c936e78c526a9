"""Malformed and hostile requests end in a 4xx with a message that says what is wrong, never in
a 500."""

from __future__ import annotations

import json

import pytest

from projects.models import Project
from tests.api import add_primary_target, client_for, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.django_db


def _post_raw(client, url: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", url, body, content_type=content_type)


def _patch_raw(client, url: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("PATCH", url, body, content_type=content_type)


# --- Bodies that are not what the API reads -------------------------------------------------


@pytest.mark.parametrize("body", ['{"slug": "x", "title": ', "{'slug': 'x'}", "not json at all", "\x00\x01"])
def test_malformed_json_is_a_400_that_says_so(outsider, body):
    response = _post_raw(client_for(outsider), "/api/projects/", body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed request body: JSON parse error")


def test_invalid_utf8_body_is_a_400(outsider):
    response = _post_raw(client_for(outsider), "/api/projects/", b'{"slug": "\xff\xfe"}')
    assert response.status_code == 400


def test_deeply_nested_json_is_a_400(outsider):
    body = '{"slug": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = _post_raw(client_for(outsider), "/api/projects/", body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_a_400(outsider, body):
    response = _post_raw(client_for(outsider), "/api/projects/", body)
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."


def test_body_over_the_request_size_cap_is_a_413(outsider, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"slug": "big", "title": "Big", "problem_statement": "x" * 4096})
    response = _post_raw(client_for(outsider), "/api/projects/", body)
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["detail"]
    assert not Project.objects.filter(slug="big").exists()


def test_unsupported_media_type_is_a_415(outsider):
    response = _post_raw(client_for(outsider), "/api/projects/", "slug=x", content_type="text/plain")
    assert response.status_code == 415


def test_form_body_with_too_many_fields_is_a_400(outsider):
    body = "&".join(f"f{n}=1" for n in range(1200))
    response = _post_raw(client_for(outsider), "/api/projects/", body,
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed request body")


def test_form_encoded_bodies_are_accepted(outsider):
    response = _post_raw(client_for(outsider), "/api/projects/", "slug=formy&title=Formy",
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201


# --- Fields of the wrong type or size -------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("title", 42),
        ("title", ["a", "list"]),
        ("title", {"an": "object"}),
        ("title", True),
        ("tags", "not-a-list"),
        ("tags", [1, 2]),
        ("visibility", None),
        ("problem_statement", 3.5),
        ("feasibility_data", "high"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(outsider, field, value):
    body = {"slug": "typed", "title": "Typed", field: value}
    response = client_for(outsider).post("/api/projects/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "field, value",
    [("threshold", "abc"), ("threshold", [1]), ("is_primary", {"a": 1}), ("position", 1.5),
     ("position", -1), ("metric", 7)],
)
def test_wrong_target_types_are_a_400(project, lead, field, value):
    body = {"metric": "accuracy", "comparator": ">=", "threshold": 0.9, field: value}
    response = client_for(lead).post("/api/projects/digits/targets/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_constants_are_a_400(project, lead, raw):
    body = '{"metric": "accuracy", "comparator": ">=", "threshold": ' + raw + "}"
    response = _post_raw(client_for(lead), "/api/projects/digits/targets/", body)
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", 10**400])
def test_non_finite_threshold_is_a_400(project, lead, value):
    body = {"metric": "accuracy", "comparator": ">=", "threshold": value}
    response = client_for(lead).post("/api/projects/digits/targets/", body, format="json")
    assert response.status_code == 400
    assert "threshold" in response.json()["errors"]


@pytest.mark.parametrize("field", ["current", "expected"])
def test_non_finite_value_estimate_is_a_400(project, lead, field):
    body = {"quantity": "minutes", "current": 4, "expected": 1, field: "NaN"}
    response = client_for(lead).post("/api/projects/digits/value-estimates/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_oversize_charter_text_is_a_400(project, lead, settings):
    limit = settings.PRAKRIYA_MAX_MARKDOWN_CHARS
    response = client_for(lead).patch("/api/projects/digits/", {"problem_statement": "x" * (limit + 1)})
    assert response.status_code == 400
    assert f"no more than {limit} characters" in response.json()["errors"]["problem_statement"][0]


def test_markdown_cap_follows_the_setting(project, lead, settings):
    settings.PRAKRIYA_MAX_MARKDOWN_CHARS = 100
    client = client_for(lead)
    assert client.patch("/api/projects/digits/", {"ml_role": "x" * 100}).status_code == 200
    response = client.patch("/api/projects/digits/", {"ml_role": "x" * 101})
    assert response.status_code == 400
    assert "no more than 100 characters" in response.json()["errors"]["ml_role"][0]


def test_oversize_deliverable_body_is_a_400(project, lead, settings):
    settings.PRAKRIYA_MAX_MARKDOWN_CHARS = 100
    response = client_for(lead).patch("/api/projects/digits/deliverables/data_document/", {"body": "y" * 101})
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_oversize_title_is_a_400(outsider):
    response = client_for(outsider).post("/api/projects/", {"slug": "long", "title": "t" * 201})
    assert response.status_code == 400
    assert "no more than 200 characters" in response.json()["errors"]["title"][0]


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud800 surrogate"])
def test_text_the_database_cannot_store_is_a_400(outsider, text):
    body = json.dumps({"slug": "weird", "title": text})  # json escapes both as \u sequences
    response = _post_raw(client_for(outsider), "/api/projects/", body)
    assert response.status_code == 400
    assert "title" in response.json()["errors"]


# --- Unknown fields -------------------------------------------------------------------------


def test_unknown_fields_on_create_are_listed_in_the_400(outsider):
    response = client_for(outsider).post(
        "/api/projects/", {"slug": "typo", "title": "Typo", "problem_statment": "x", "owner": "me"}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"problem_statment", "owner"}
    assert errors["owner"][0].startswith("Unknown field. Accepted fields:")
    assert "problem_statement" in errors["owner"][0]
    assert not Project.objects.filter(slug="typo").exists()


def test_read_only_fields_are_unknown_to_writes(project, lead):
    response = client_for(lead).patch("/api/projects/digits/", {"stage": "complete", "slug": "renamed"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"stage", "slug"}
    project.refresh_from_db()
    assert project.stage == "project_page"


def test_unknown_target_fields_are_a_400(project, lead):
    body = {"metric": "accuracy", "comparator": ">=", "threshold": 0.9, "project": 99}
    response = client_for(lead).post("/api/projects/digits/targets/", body, format="json")
    assert response.status_code == 400
    assert "project" in response.json()["errors"]


def test_unknown_member_fields_are_a_400(project, lead):
    response = client_for(lead).post("/api/projects/digits/members/",
                                     {"username": "outsider", "role": "viewer", "is_superuser": True})
    assert response.status_code == 400
    assert "is_superuser" in response.json()["errors"]


def test_unknown_export_fields_are_a_400(project, lead):
    response = client_for(lead).post("/api/projects/digits/exports/", {"pause": 1})
    assert response.status_code == 400
    assert "pause" in response.json()["errors"]


@pytest.mark.parametrize("pause", [-1, 6, "NaN", "soon"])
def test_out_of_range_export_pause_is_a_400(project, lead, pause):
    response = client_for(lead).post("/api/projects/digits/exports/", {"pause_seconds": pause}, format="json")
    assert response.status_code == 400
    assert "pause_seconds" in response.json()["errors"]


# --- URLs and query strings -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/projects/bad%20slug/",
        "/api/projects/bad.slug/",
        "/api/projects/digits/targets/abc/",
        "/api/projects/digits/targets/99999999999999999999999/",
        "/api/projects/digits/value-estimates/-1/",
        "/api/projects/digits/revisions/99999999999999999999/",
        "/api/projects/digits/deliverables/Project_Page/",
        "/api/jobs/99999999999999999999999/",
        "/api/projects/?page=abc",
        "/api/projects/?page=999",
    ],
)
def test_malformed_urls_are_404(project, lead, url):
    assert client_for(lead).get(url).status_code == 404


def test_malformed_member_id_is_404(project, lead):
    assert client_for(lead).patch("/api/projects/digits/members/x1/", {"role": "viewer"}).status_code == 404
    assert client_for(lead).delete("/api/projects/digits/members/99999999999999999999/").status_code == 404


@pytest.mark.parametrize("params", [{"q": "a\x00b"}, {"tag": "\x00"}, {"stage": "\x00"}])
def test_nul_bytes_in_filters_are_a_400(project, params):
    assert client_for(None).get("/api/projects/", params).status_code == 400


def test_undecodable_query_string_does_not_crash(project):
    response = client_for(None).get("/api/projects/?q=%ED%A0%80%FF")
    assert response.status_code == 200


@pytest.mark.parametrize("header", ["Token caf\xe9", "Token abc\x00def", "Token", "Token a b", "Token " + "f" * 5000])
def test_malformed_token_headers_are_a_401(project, header):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/projects/")
    assert response.status_code == 401


def test_service_validation_errors_keep_the_error_shape(project, lead):
    add_primary_target(project, lead)
    response = client_for(lead).post("/api/projects/digits/deliverables/project_page/approve/")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert body["errors"]["non_field_errors"][0].startswith("Cannot approve")
