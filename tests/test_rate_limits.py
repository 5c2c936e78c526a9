"""Rate limits on expensive requests: within its window, the request after the allowance is a 429
(JSON with Retry-After from the API, a readable page from the site), one scope is one count across
the pages and the API, and other people keep their own allowance. Counted in the real cache of the
embedded default (a diskcache folder, one per test: tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from prakriya.jobs.models import Job
from prakriya.limits import rate_text
from tests.fixtures_annotation import make_version
from tests.matrix import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    settings.PRAKRIYA_RATE_LIMITS = {"uploads": "2/h", "jobs": "2/h", "profiles": "1/h", "signups": "2/h"}
    return settings.PRAKRIYA_RATE_LIMITS


def test_rates_read_as_people_say_them():
    assert rate_text("30/h") == "30 an hour"
    assert rate_text("5/d") == "5 a day"
    assert rate_text("10/15m") == "10 every 15 minutes"


def test_the_third_job_launch_in_an_hour_is_a_429_and_the_lead_still_launches(rates, project, engineer, lead):
    url = reverse("api:project-export-list", kwargs={"project_slug": project.slug})
    api = signed_in(engineer, api=True)
    assert [api.post(url, {}, format="json").status_code for _ in range(2)] == [202, 202]

    refused = api.post(url, {}, format="json")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert refused.json()["detail"].startswith("Too many jobs started: at most 2 an hour job launches. Try again in")
    assert Job.objects.count() == 2
    assert signed_in(lead, api=True).post(url, {}, format="json").status_code == 202
    # Reading is never limited.
    assert api.get(reverse("api:job-list")).status_code == 200


def test_pages_and_the_api_share_one_count_and_the_page_says_so_readably(rates, project, engineer):
    page_url = reverse("projects:export", args=[project.slug])
    api_url = reverse("api:project-export-list", kwargs={"project_slug": project.slug})
    browser = signed_in(engineer)
    assert browser.post(page_url).status_code == 302
    assert signed_in(engineer, api=True).post(api_url, {}, format="json").status_code == 202

    refused = browser.post(page_url)

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    page = refused.content.decode()
    assert "<h1>Too many jobs started</h1>" in page and "at most 2 an hour job launches" in page
    assert Job.objects.count() == 2


def test_training_launches_are_counted(rates, project, engineer):
    from tests.experiments.runs_helpers import split_version

    split_version(project)
    url = reverse("api:run-list", kwargs={"project_slug": project.slug})
    api = signed_in(engineer, api=True)
    launch = {"dataset": "digits", "version": 1, "trainer": "majority"}
    statuses = [api.post(url, launch, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    # The runs list is read freely.
    assert api.get(url).status_code == 200


def test_uploads_are_counted_even_when_refused_and_per_person(rates, project, engineer, lead):
    make_version(project, kind="tabular", slug="forms", count=2)
    url = reverse("api:dataset-version-upload", kwargs={"project_slug": project.slug, "dataset_slug": "forms"})
    api = signed_in(engineer, api=True)
    empty = {"file": SimpleUploadedFile("x.csv", b"")}

    statuses = [api.post(url, dict(empty), format="multipart").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert "Too many uploads: at most 2 an hour uploads" in api.post(url, dict(empty), format="multipart").json()[
        "detail"]
    html = signed_in(engineer).post(reverse("datasets:upload", args=[project.slug, "forms"]), {})
    assert html.status_code == 429 and "Too many uploads" in html.content.decode()
    assert signed_in(lead, api=True).post(url, dict(empty), format="multipart").status_code == 400


def test_profile_recomputes_have_their_own_allowance(rates, project, engineer):
    make_version(project, kind="tabular", slug="forms", count=2)
    url = reverse("api:dataset-version-profile",
                  kwargs={"project_slug": project.slug, "dataset_slug": "forms", "number": "1"})
    api = signed_in(engineer, api=True)
    assert api.post(url).status_code == 202
    refused = api.post(url)
    assert refused.status_code == 429 and "Too many profile recomputes" in refused.json()["detail"]
    page = signed_in(engineer).post(reverse("datasets:reprofile", args=[project.slug, "forms", 1]))
    assert page.status_code == 429
    # Other launches are not held by it.
    export = reverse("api:project-export-list", kwargs={"project_slug": project.slug})
    assert api.post(export, {}, format="json").status_code == 202


def _sign_up(client, username: str, address: str):
    data = {"username": username, "email": f"{username}@example.org", "display_name": username,
            "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase"}
    return client.post(reverse("sign_up"), data, REMOTE_ADDR=address)


def test_the_third_sign_up_from_one_address_is_a_429_and_other_addresses_sign_up(rates, client):
    from django.contrib.auth import get_user_model
    from django.test import Client

    assert _sign_up(Client(), "asha", "203.0.113.7").status_code == 302
    assert _sign_up(Client(), "bela", "203.0.113.7").status_code == 302

    refused = _sign_up(Client(), "chen", "203.0.113.7")

    assert refused.status_code == 429
    assert "Too many sign-ups: at most 2 an hour new accounts from one address" in refused.content.decode()
    assert not get_user_model().objects.filter(username="chen").exists()
    assert _sign_up(Client(), "chen", "198.51.100.4").status_code == 302
    # The form itself is shown to anyone.
    assert Client().get(reverse("sign_up"), REMOTE_ADDR="203.0.113.7").status_code == 200


def test_an_upload_over_a_cap_on_active_jobs_is_a_429_and_leaves_no_staged_files(settings, project, engineer):
    from projects.services import project_export_start

    make_version(project, kind="tabular", slug="forms", count=2)
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 1
    project_export_start(project=project, actor=engineer)
    url = reverse("api:dataset-version-upload", kwargs={"project_slug": project.slug, "dataset_slug": "forms"})

    response = signed_in(engineer, api=True).post(
        url, {"file": SimpleUploadedFile("forms.csv", b"a,label\n1,x\n2,y\n")}, format="multipart"
    )

    assert response.status_code == 429, response.content
    assert "This project has 1 jobs queued or running" in response.json()["detail"]
    assert Job.objects.count() == 1
    assert not list((settings.DATA_DIR / "staging").glob("*"))
