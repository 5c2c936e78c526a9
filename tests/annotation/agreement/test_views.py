"""The agreement page with the Django test client: who may see it, the run form (a job, or a form
error, never a 500), and the report it shows: headline numbers with their intervals, the four
charts, per annotator, and the most disagreed items linked to adjudication."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from datasets.annotation import kinds as annotation_kinds
from datasets.annotation import services
from datasets.annotation.agreement.jobs import agreement_start
from datasets.annotation.models import AgreementReport, Annotation
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.fixtures_annotation import make_version, more_annotators

pytestmark = pytest.mark.django_db

LOGIN = "login"
ALL_ROLES = ("anonymous", "outsider", "viewer", "annotator", "stranger", "engineer", "lead")
# stranger: an annotator of the project who is not assigned to the campaign.
PAGE = dict(zip(ALL_ROLES, (LOGIN, 404, 404, 403, 404, 200, 200), strict=True))
RUN = dict(zip(ALL_ROLES, (LOGIN, 404, 404, 403, 404, 302, 302), strict=True))


def agreement_url(campaign) -> str:
    return reverse("annotation:agreement", args=[campaign.project.slug, campaign.slug])


def status_of(response) -> object:
    if response.status_code == 302 and response.url.startswith("/accounts/login/"):
        return LOGIN
    return response.status_code


def plotly_figures(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" data-plotly-for="([^"]+)">(.*?)</script>', html, re.S)
    return {element: json.loads(body) for element, body in found}


@pytest.fixture
def labelled(campaign, annotator, engineer, lead):
    """Annotator and engineer label every item; they disagree on every third one."""
    for index, ci in enumerate(campaign.items.order_by("position")):
        mine = "positive" if index % 2 else "negative"
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=ci, value=mine)
        theirs = "neutral" if index % 3 == 0 else mine
        services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=ci, value=theirs)
    return campaign


@pytest.fixture
def people(users, project):
    return {**users, "stranger": more_annotators(project, 1)[0]}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_gets_what_it_may_have(client, labelled, people, role):
    if people[role] is not None:
        client.force_login(people[role])
    assert status_of(client.get(agreement_url(labelled))) == PAGE[role]
    assert status_of(client.post(agreement_url(labelled), {})) == RUN[role]
    started = Job.objects.filter(kind=annotation_kinds.AGREEMENT).count()
    assert started == (1 if RUN[role] == 302 else 0)


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_a_private_projects_campaign_is_404(client, private_project, lead, users, role):
    campaign = services.campaign_create(version=make_version(private_project, slug="notes"), actor=lead,
                                        name="Secret", task_type="single", labels=[{"name": "a"}])
    if users[role] is not None:
        client.force_login(users[role])
    assert client.get(agreement_url(campaign)).status_code == 404
    assert client.post(agreement_url(campaign), {}).status_code == 404


def test_other_methods_are_refused(client, labelled, lead):
    client.force_login(lead)
    assert client.put(agreement_url(labelled)).status_code == 405


def test_running_it_starts_the_job_and_follows_it_on_the_job_page(client, labelled, engineer):
    client.force_login(engineer)
    response = client.post(agreement_url(labelled), {"ordered": "on"}, follow=True)
    job = Job.objects.get(kind=annotation_kinds.AGREEMENT)
    assert response.redirect_chain == [(reverse("projects:job", args=[job.pk]), 302)]
    assert job.params == {"ordered": True} and job.target == labelled and job.created_by == engineer
    assert "Computing the agreement of “Sentiment”." in response.content.decode()
    # While it waits for a worker, the agreement page says so and links to it.
    html = client.get(agreement_url(labelled)).content.decode()
    assert 'data-testid="agreement-running"' in html and reverse("projects:job", args=[job.pk]) in html


def test_nothing_to_compare_is_a_form_error_not_a_job(client, campaign, annotator, lead):
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=campaign.items.first(),
                               value="positive")
    client.force_login(lead)
    response = client.post(agreement_url(campaign), {})
    assert response.status_code == 400
    assert "no item has labels from two annotators yet" in response.content.decode()
    assert not Job.objects.filter(kind=annotation_kinds.AGREEMENT).exists()


def test_only_single_label_campaigns_offer_ordered_labels(client, campaign, lead):
    multi = services.campaign_create(version=campaign.version, actor=lead, name="Multi", task_type="multi",
                                     labels=[{"name": "a"}, {"name": "b"}])
    client.force_login(lead)
    assert 'name="ordered"' in client.get(agreement_url(campaign)).content.decode()
    assert 'name="ordered"' not in client.get(agreement_url(multi)).content.decode()


def test_without_a_report_the_page_offers_a_run(client, campaign, lead):
    client.force_login(lead)
    html = client.get(agreement_url(campaign)).content.decode()
    assert "No agreement computed yet." in html and "Run agreement" in html
    assert "plotly.min.js" not in html


def test_a_report_of_an_unknown_shape_is_not_a_500(client, campaign, lead):
    AgreementReport.objects.create(campaign=campaign, result={"stats": {"krippendorff_alpha": "n/a"}})
    client.force_login(lead)
    response = client.get(agreement_url(campaign))
    assert response.status_code == 200
    assert "format this page cannot read" in response.content.decode()


# The runner closes stale connections, as a worker does: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_report_its_charts_and_links_disagreements_to_adjudication(client, labelled, lead,
                                                                                      engineer):
    # The first two items were labelled three days ago: the timeline has two points.
    early = Annotation.objects.filter(campaign=labelled, campaign_item__position__lt=2)
    early.update(updated_at=early.first().updated_at - timedelta(days=3))
    job = agreement_start(campaign=labelled, actor=lead)
    assert job_execute(job.pk) == JobState.SUCCEEDED
    stats = AgreementReport.objects.get(job=job).result["stats"]

    client.force_login(lead)
    html = client.get(agreement_url(labelled)).content.decode()
    figures = plotly_figures(html)
    assert set(figures) == {"agreement-pairwise-kappa", "agreement-label-confusion", "agreement-over-time",
                            "agreement-per-label-alpha"}
    heatmap = figures["agreement-pairwise-kappa"]["data"][0]
    assert heatmap["type"] == "heatmap" and sorted(heatmap["x"]) == ["annotator", "engineer"]
    assert "plotly.min.js" in html and "charts.js" in html
    over_time = figures["agreement-over-time"]["data"]
    assert [len(trace["x"]) for trace in over_time if trace.get("name")] == [2, 2]

    alpha = stats["krippendorff_alpha"]["nominal"]
    assert f'data-testid="alpha">{alpha["value"]:.3f}<' in html
    low, high = alpha["ci"]
    assert f"95% CI {low:.3f} to {high:.3f}" in html
    assert f'data-testid="percent">{stats["percent_agreement"]["value"] * 100:.1f}%<' in html
    assert "not yet reliable" in html  # alpha is low: a third of the items are disputed

    # Every disputed item, linked to its adjudication page (the lead adjudicates).
    disputed = [row["campaign_item"] for row in stats["most_disagreed"]]
    assert len(disputed) == 4
    for pk in disputed:
        assert reverse("annotation:adjudicate_item", args=[labelled.project.slug, labelled.slug, pk]) in html
    per_annotator = re.search(r'data-testid="per-annotator">(.*?)</table>', html, re.S).group(1)
    assert "annotator" in per_annotator and "engineer" in per_annotator

    # Engineers see the report, but adjudication is the lead's: no links to it.
    client.force_login(engineer)
    html = client.get(agreement_url(labelled)).content.decode()
    assert "agreement-pairwise-kappa" in html
    assert reverse("annotation:adjudicate", args=[labelled.project.slug, labelled.slug]) not in html


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_is_explained_next_to_the_last_good_report(client, labelled, lead, project):
    good = agreement_start(campaign=labelled, actor=lead)
    assert job_execute(good.pk) == JobState.SUCCEEDED
    lonely = services.campaign_create(version=labelled.version, actor=lead, name="Lonely", task_type="single",
                                      labels=[{"name": "a"}])
    failed = Job.objects.create(
        kind=annotation_kinds.AGREEMENT, project=project, target_type=good.target_type, target_id=labelled.pk,
        state=JobState.FAILED, message="Something went wrong in a way worth telling.",
    )
    client.force_login(lead)
    html = client.get(agreement_url(labelled)).content.decode()
    assert 'data-testid="agreement-failed"' in html and failed.message in html
    assert 'data-testid="agreement-report"' in html  # the last good report is still shown
    # All labelled at once: a single point in time is said, not charted.
    assert "agreement-over-time" not in html and 'data-testid="timeline-single"' in html
    assert "No agreement computed yet." in client.get(agreement_url(lonely)).content.decode()
