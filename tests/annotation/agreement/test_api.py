"""The agreement endpoint of the campaign API: the latest report (GET) and a new run (POST → 202
with the job), for the lead and engineers only; bad bodies are 400s, never 500s."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasets.annotation import kinds as annotation_kinds
from datasets.annotation import services
from datasets.annotation.agreement.jobs import agreement_start
from datasets.annotation.models import AgreementReport
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.api import client_for, fast_password_hashing  # noqa: F401
from tests.fixtures_annotation import make_version, more_annotators

pytestmark = pytest.mark.django_db

ALL_ROLES = ("anonymous", "outsider", "viewer", "stranger", "annotator", "engineer", "lead")
# stranger: an annotator of the project who is not assigned to the campaign.
READ = dict(zip(ALL_ROLES, (404, 404, 404, 404, 403, 200, 200), strict=True))
RUN = dict(zip(ALL_ROLES, (401, 404, 404, 404, 403, 202, 202), strict=True))


def url(campaign) -> str:
    return reverse("api:campaign-agreement", kwargs={"project_slug": campaign.project.slug,
                                                     "campaign_slug": campaign.slug})


@pytest.fixture
def labelled(campaign, annotator, engineer):
    for index, ci in enumerate(campaign.items.order_by("position")):
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=ci, value="positive")
        services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=ci,
                                   value="negative" if index < 3 else "positive")
    return campaign


@pytest.fixture
def people(users, project):
    return {**users, "stranger": more_annotators(project, 1)[0]}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_gets_what_it_may_have(labelled, people, role):
    AgreementReport.objects.create(campaign=labelled, annotation_count=24, result={"stats": {}, "timeline": []})
    client = client_for(people[role])
    assert client.get(url(labelled)).status_code == READ[role]
    assert client.post(url(labelled), {}, format="json").status_code == RUN[role]
    assert Job.objects.filter(kind=annotation_kinds.AGREEMENT).count() == (1 if RUN[role] == 202 else 0)


def test_a_private_projects_campaign_is_404_to_outsiders(private_project, lead, outsider):
    campaign = services.campaign_create(version=make_version(private_project, slug="notes"), actor=lead,
                                        name="Secret", task_type="single", labels=[{"name": "a"}])
    assert client_for(outsider).get(url(campaign)).status_code == 404
    assert client_for(outsider).post(url(campaign), {}, format="json").status_code == 404
    assert client_for().get(url(campaign)).status_code == 404


def test_no_report_yet_is_404_with_a_reason(labelled, lead):
    response = client_for(lead).get(url(labelled))
    assert response.status_code == 404


def test_post_starts_the_job_and_answers_where_to_follow_it(labelled, engineer):
    response = client_for(engineer).post(url(labelled), {"ordered": True}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(kind=annotation_kinds.AGREEMENT)
    assert response.json()["id"] == job.pk and response.json()["kind"] == "annotation_agreement"
    assert response["Location"].endswith(reverse("api:job-detail", kwargs={"pk": job.pk}))
    assert job.params == {"ordered": True} and job.target == labelled


@pytest.mark.parametrize("body", [{"ordered": "sometimes"}, {"colour": "blue"}, ["ordered"], "x"])
def test_malformed_bodies_are_400(labelled, lead, body):
    response = client_for(lead).post(url(labelled), body, format="json")
    assert response.status_code == 400, response.content
    assert not Job.objects.filter(kind=annotation_kinds.AGREEMENT).exists()


def test_nothing_to_compare_and_ordered_multi_label_are_400(campaign, lead, annotator):
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=campaign.items.first(),
                               value="positive")
    response = client_for(lead).post(url(campaign), {}, format="json")
    assert response.status_code == 400
    assert "no item has labels from two annotators" in str(response.json())
    multi = services.campaign_create(version=campaign.version, actor=lead, name="Multi", task_type="multi",
                                     labels=[{"name": "a"}], annotators=[annotator, lead], overlap=2)
    ci = multi.items.first()
    for person in (annotator, lead):
        services.annotation_submit(campaign=multi, annotator=person, campaign_item=ci, value=["a"])
    response = client_for(lead).post(url(multi), {"ordered": True}, format="json")
    assert response.status_code == 400
    assert "ordered" in response.json()["errors"]


# The runner closes stale connections, as a worker does: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_get_returns_the_latest_report(labelled, lead):
    job = agreement_start(campaign=labelled, actor=lead)
    assert job_execute(job.pk) == JobState.SUCCEEDED
    report = AgreementReport.objects.get(job=job)
    body = client_for(lead).get(url(labelled)).json()
    assert body["id"] == report.pk and body["job"] == job.pk and body["annotation_count"] == 24
    assert body["ordered"] is False and body["timeline_bucket"] == "hour"
    assert body["stats"] == report.result["stats"] and body["timeline"] == report.result["timeline"]
    assert body["stats"]["annotators"] == ["annotator", "engineer"]
    disputed = {row["campaign_item"] for row in body["stats"]["most_disagreed"]}
    assert disputed == set(labelled.items.filter(position__lt=3).values_list("pk", flat=True))
