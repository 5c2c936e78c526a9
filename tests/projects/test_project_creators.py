"""Who may create projects (PRAKRIYA_PROJECT_CREATORS): anyone signed in by default, or staff only;
the service, the page, the API and the "New project" links all follow it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from projects import services
from projects.models import Project
from tests.factories import UserFactory
from tests.matrix import signed_in

pytestmark = pytest.mark.django_db

NEW = {"slug": "street-signs", "title": "Street signs", "summary": "", "visibility": "public"}


@pytest.fixture
def staff(db):
    return UserFactory(username="operator", is_staff=True)


def _api_create(user):
    return signed_in(user, api=True).post(reverse("api:project-list"), NEW, format="json")


def _page_create(user):
    return signed_in(user).post(reverse("projects:create"), {**NEW, "tags": ""})


def test_by_default_anyone_signed_in_creates_projects_and_sees_the_link(settings, outsider):
    assert settings.PRAKRIYA_PROJECT_CREATORS == "anyone"
    assert 'href="/projects/new/"' in signed_in(outsider).get("/").content.decode()
    assert signed_in(outsider).get(reverse("projects:create")).status_code == 200
    assert _api_create(outsider).status_code == 201
    assert Project.objects.get(slug="street-signs").memberships.get().user == outsider


def test_by_default_the_page_creates_too(outsider):
    response = _page_create(outsider)
    assert response.status_code == 302 and Project.objects.filter(slug="street-signs").exists()


def test_staff_only_refuses_others_with_403_and_a_reason_everywhere(settings, outsider):
    settings.PRAKRIYA_PROJECT_CREATORS = "staff"

    api = _api_create(outsider)
    assert api.status_code == 403
    assert api.json()["detail"].startswith("On this platform only staff may create projects")
    page = signed_in(outsider).get(reverse("projects:create"))
    assert page.status_code == 403 and "only staff may create projects" in page.content.decode()
    assert _page_create(outsider).status_code == 403
    with pytest.raises(PermissionDenied):
        services.project_create(creator=outsider, slug="x-1", title="X")
    assert not Project.objects.exists()
    home = signed_in(outsider).get("/").content.decode()
    assert 'href="/projects/new/"' not in home


def test_staff_only_lets_staff_create_on_the_page_and_the_api(settings, staff):
    settings.PRAKRIYA_PROJECT_CREATORS = "staff"
    assert 'href="/projects/new/"' in signed_in(staff).get("/").content.decode()
    assert _page_create(staff).status_code == 302
    assert signed_in(staff, api=True).post(
        reverse("api:project-list"), {**NEW, "slug": "other"}, format="json"
    ).status_code == 201
    assert Project.objects.count() == 2


def test_anonymous_visitors_are_still_sent_to_log_in(settings):
    settings.PRAKRIYA_PROJECT_CREATORS = "staff"
    assert signed_in(None).get(reverse("projects:create")).status_code == 302
    assert signed_in(None, api=True).post(reverse("api:project-list"), NEW, format="json").status_code == 401
