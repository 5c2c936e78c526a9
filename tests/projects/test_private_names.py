"""Nothing a page or the API answers confirms that a private project exists to someone who cannot
see it: not creating a project with its slug, not the directory's tag choices."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from projects import services
from projects.models import Project, Tag
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db

UNAVAILABLE = "This address is not available; choose another."
RANDOM_ENDING = re.compile(r"^(?P<base>.+)-[a-z0-9]{8}$")


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _create_page(client, slug: str, visibility: str = "public"):
    return client.post(reverse("projects:create"), {
        "title": "Mine", "slug": slug, "summary": "", "visibility": visibility, "tags": "",
    })


# --- Slugs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_asking_for_a_private_projects_slug_answers_as_for_any_unavailable_one(
    client, project, private_project, outsider, visibility
):
    """An outsider cannot tell a private project's slug from a public project's or a reserved
    one: the page and the API give the one message for all three."""
    client.force_login(outsider)
    api = _api(outsider)
    answers = {}
    for slug in ("secret-forms", "digits", "new"):
        page = _create_page(client, slug, visibility="public")
        response = api.post("/api/projects/", {"slug": slug, "title": "Mine", "visibility": "public"})
        answers[slug] = (page.status_code, page.context["form"].errors["slug"], response.status_code,
                         response.json())
    assert answers["secret-forms"] == answers["digits"] == answers["new"]
    assert answers["digits"][1] == [UNAVAILABLE]
    assert answers["digits"][3] == {"detail": "Invalid input.", "errors": {"slug": [UNAVAILABLE]}}
    assert Project.objects.filter(slug__iexact="secret-forms").count() == 1


def test_a_private_project_made_on_the_page_gets_an_unguessable_slug(client, outsider):
    client.force_login(outsider)
    response = _create_page(client, "acme-fraud", visibility="private")
    assert response.status_code == 302
    project = Project.objects.get(title="Mine")
    assert RANDOM_ENDING.match(project.slug).group("base") == "acme-fraud"
    assert response.url == reverse("projects:charter_edit", args=[project.slug])
    page = client.get(response.url).content.decode()
    assert f"/projects/{project.slug}/" in page  # the message names the address
    # Nobody else can now learn anything by asking for the plain slug: it is free.
    other = UserFactory()
    response = _api(other).post("/api/projects/", {"slug": "acme-fraud", "title": "Theirs"})
    assert response.status_code == 201
    assert response.json()["slug"] == "acme-fraud"


def test_a_private_project_made_through_the_api_gets_an_unguessable_slug(outsider):
    first = _api(outsider).post("/api/projects/", {"slug": "forms", "title": "A", "visibility": "private"})
    second = _api(outsider).post("/api/projects/", {"slug": "forms", "title": "B", "visibility": "private"})
    assert first.status_code == second.status_code == 201
    slugs = {first.json()["slug"], second.json()["slug"]}
    assert len(slugs) == 2
    assert all(RANDOM_ENDING.match(slug).group("base") == "forms" for slug in slugs)
    assert _api(outsider).get(f"/api/projects/{first.json()['slug']}/").json()["my_role"] == "lead"


def test_a_long_private_slug_keeps_within_the_limit(outsider):
    response = _api(outsider).post("/api/projects/", {"slug": "x" * 80, "title": "Long", "visibility": "private"})
    assert response.status_code == 201
    assert len(response.json()["slug"]) == 80


def test_public_projects_keep_the_slug_asked_for(client, outsider):
    client.force_login(outsider)
    assert _create_page(client, "open-data").status_code == 302
    assert Project.objects.filter(slug="open-data").exists()


def test_the_service_still_makes_exact_private_slugs_for_seeding(lead):
    project = make_project(lead=lead, slug="fixed", visibility="private")
    assert project.slug == "fixed"
    with pytest.raises(Exception, match="not available"):
        services.project_create(creator=lead, slug="FIXED", title="Again")


# --- Tags ---------------------------------------------------------------------------------------


@pytest.fixture
def tagged(project, private_project, lead):
    services.project_update_settings(project=project, actor=lead, tags=["vision", "shared"])
    services.project_update_settings(project=private_project, actor=lead, tags=["confidential-ocr", "shared"])
    Tag.objects.create(name="unused")
    return project


def _tag_choices(client) -> list[str]:
    response = client.get(reverse("projects:directory"))
    return [tag.name for tag in response.context["filter"].form.fields["tag"].queryset]


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_the_directory_offers_only_tags_of_projects_you_see(client, users, tagged, role):
    if users[role] is not None:
        client.force_login(users[role])
    assert _tag_choices(client) == ["shared", "vision"]
    assert "confidential-ocr" not in client.get(reverse("projects:directory")).content.decode()
    # Filtering by a private project's tag is the same error as filtering by a tag nobody uses.
    private_tag = client.get(reverse("projects:directory"), {"tag": "confidential-ocr"})
    nobodys_tag = client.get(reverse("projects:directory"), {"tag": "no-such-tag"})
    assert private_tag.context["filter"].errors == nobodys_tag.context["filter"].errors
    assert private_tag.context["filter"].errors["tag"]


@pytest.mark.parametrize("role", ["viewer", "annotator", "engineer", "lead"])
def test_members_see_their_private_projects_tags(client, users, tagged, role):
    client.force_login(users[role])
    assert _tag_choices(client) == ["confidential-ocr", "shared", "vision"]
    response = client.get(reverse("projects:directory"), {"tag": "confidential-ocr"})
    assert [p.slug for p in response.context["page"]] == ["secret-forms"]


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_the_api_tag_filter_says_nothing_of_private_tags(users, tagged, role):
    client = APIClient()
    if users[role] is not None:
        client.force_authenticate(users[role])
    private_tag = client.get("/api/projects/", {"tag": "confidential-ocr"})
    nobodys_tag = client.get("/api/projects/", {"tag": "no-such-tag"})
    assert private_tag.status_code == nobodys_tag.status_code == 200
    assert private_tag.json() == nobodys_tag.json()
    assert private_tag.json()["count"] == 0
