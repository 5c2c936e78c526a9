"""The campaign management pages with the Django test client: who gets what on every page, the
forms' errors (400s, never 500s), and what each page does through the services."""

from __future__ import annotations

import functools
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from datasets.annotation import selectors, services
from datasets.annotation.models import (
    AgreementReport,
    Annotation,
    Campaign,
    CampaignItem,
    GuidelineExample,
    LabelRelease,
)
from datasets.models import DatasetVersion, VersionState
from prakriya.jobs.models import Job
from tests.conftest import ROLES
from tests.fixtures_annotation import make_version, more_annotators
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

LOGIN = "login"
ALL_ROLES = (*ROLES, "stranger")  # stranger: an annotator of the project not assigned to the campaign


def row(anonymous, outsider, viewer, annotator, stranger, engineer, lead) -> dict:
    return dict(zip(("anonymous", "outsider", "viewer", "annotator", "stranger", "engineer", "lead"),
                    (anonymous, outsider, viewer, annotator, stranger, engineer, lead), strict=True))


# What each role gets: visible-to-members pages, managers' pages, the lead's pages.
LIST = row(LOGIN, 200, 200, 200, 200, 200, 200)
CREATE_PAGE = row(LOGIN, 403, 403, 403, 403, 200, 200)
CREATE_ACTION = row(LOGIN, 403, 403, 403, 403, 302, 302)
CAMPAIGN_PAGE = row(LOGIN, 404, 404, 200, 404, 200, 200)
MANAGE_PAGE = row(LOGIN, 404, 404, 403, 404, 200, 200)
MANAGE_ACTION = row(LOGIN, 404, 404, 403, 404, 302, 302)
LEAD_PAGE = row(LOGIN, 404, 404, 403, 404, 403, 200)
LEAD_ACTION = row(LOGIN, 404, 404, 403, 404, 403, 302)


def label_everything(campaign, people, choose) -> None:
    """Every person labels every item they are offered; choose(person, campaign_item) picks the value."""
    for person in people:
        while (task := services.task_claim(campaign=campaign, annotator=person)) is not None:
            services.annotation_submit(campaign=campaign, annotator=person, campaign_item=task,
                                       value=choose(person, task))


def split_votes(campaign, annotator, engineer) -> None:
    """The annotator labels every item, the engineer all but the last two offered (so two items
    still wait for a second label). They agree on the items with an even key (positive or negative
    by the key) and disagree on the others."""
    def choose(person, task):
        number = int(task.item.key[-1])
        if number % 2 == 0:
            return "positive" if number in (0, 4, 8) else "negative"
        return "positive" if person == annotator else "neutral"

    label_everything(campaign, [annotator], choose)
    for _ in range(campaign.items.count() - 2):
        task = services.task_claim(campaign=campaign, annotator=engineer)
        services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=task,
                                   value=choose(engineer, task))


@pytest.fixture
def stranger(project):
    return more_annotators(project, 1)[0]


@pytest.fixture
def people(users, stranger):
    return {**users, "stranger": stranger}


@pytest.fixture
def labelled(campaign, annotator, engineer):
    split_votes(campaign, annotator, engineer)
    return campaign


def status_of(response) -> object:
    if response.status_code == 302 and response.url.startswith("/accounts/login/"):
        return LOGIN
    return response.status_code


def urls(campaign, item_id: int) -> dict[str, str]:
    slug, c = campaign.project.slug, campaign.slug
    return {
        "list": reverse("annotation:list", args=[slug]),
        "create": reverse("annotation:create", args=[slug]),
        "detail": reverse("annotation:detail", args=[slug, c]),
        "edit": reverse("annotation:edit", args=[slug, c]),
        "close": reverse("annotation:close", args=[slug, c]),
        "release": reverse("annotation:release", args=[slug, c]),
        "active": reverse("annotation:active", args=[slug, c]),
        "adjudicate": reverse("annotation:adjudicate", args=[slug, c]),
        "adjudicate_item": reverse("annotation:adjudicate_item", args=[slug, c, item_id]),
        "gold_sample": reverse("annotation:gold_sample", args=[slug, c]),
        "guideline_edit": reverse("annotation:guideline_edit", args=[slug, c]),
    }


def create_payload(dataset_version, **overrides) -> dict:
    payload = {
        "version": dataset_version.pk, "name": "Tone", "slug": "", "task_type": "single",
        "labels": "positive, #2ca02c, p\nnegative, n\nnot sure", "overlap": 2, "blind": "on",
        "order": "random", "seed": 3, "lock_ttl_seconds": 600, "introduction": "Read the **whole** text.",
    }
    payload.update(overrides)
    return payload


def disagreement(campaign) -> CampaignItem:
    first = selectors.disagreements(campaign=campaign)[0]["campaign_item_id"]
    return CampaignItem.objects.select_related("item").get(pk=first)


ROUTES = [
    ("list", "GET", None, LIST),
    ("create", "GET", None, CREATE_PAGE),
    ("create", "POST", "create", CREATE_ACTION),
    ("detail", "GET", None, CAMPAIGN_PAGE),
    ("edit", "GET", None, MANAGE_PAGE),
    ("edit", "POST", "edit", MANAGE_ACTION),
    ("close", "POST", {}, MANAGE_ACTION),
    ("release", "POST", {}, MANAGE_ACTION),
    ("active", "POST", {"method": "entropy"}, MANAGE_ACTION),
    ("guideline_edit", "GET", None, MANAGE_PAGE),
    ("guideline_edit", "POST", {"introduction": "New", "change_note": "Clearer"}, MANAGE_ACTION),
    ("adjudicate", "GET", None, LEAD_PAGE),
    ("adjudicate_item", "GET", None, LEAD_PAGE),
    ("adjudicate_item", "POST", {"gold": "neutral", "note": "sarcasm"}, LEAD_ACTION),
    ("gold_sample", "POST", {"size": "3", "seed": "0"}, LEAD_ACTION),
]


def test_every_page_gives_each_role_what_it_may_have(labelled, text_version, people):
    # One world for every page: each role's request runs in a savepoint rolled back after it, so
    # every page sees the world as built.
    item = disagreement(labelled).pk
    check_routes({
        f"{method} {name}": functools.partial(
            _check_page, url=urls(labelled, item)[name], method=method, name=name, data=data, expected=expected,
            text_version=text_version, people=people,
        )
        for name, method, data, expected in ROUTES
    })


def _check_page(*, url, method, name, data, expected, text_version, people):
    if data == "create":
        data = create_payload(text_version)
    elif data == "edit":
        data = {"name": "Renamed", "lock_ttl_seconds": 300}

    def send(role):
        client = signed_in(people[role])
        return client.get(url) if method == "GET" else client.post(url, data or {})

    check_matrix(route=f"{method} {name}", visibility="public", send=send, status_of=status_of,
                 expected={role: expected[role] for role in ALL_ROLES})


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_every_page_of_a_private_project_is_404_to_outsiders_and_anonymous(client, private_project, lead, users,
                                                                           role):
    version = make_version(private_project, slug="notes")
    campaign = services.campaign_create(version=version, actor=lead, name="Secret", task_type="single",
                                        labels=[{"name": "a"}, {"name": "b"}])
    if users[role] is not None:
        client.force_login(users[role])
    item = campaign.items.first()
    for name, url in urls(campaign, item.pk).items():
        response = client.post(url, {}) if name in ("close", "release", "active", "gold_sample") else client.get(url)
        assert response.status_code == 404, name


@pytest.mark.parametrize("name", ["close", "release", "active", "gold_sample"])
def test_action_routes_refuse_get(client, campaign, lead, name):
    client.force_login(lead)
    assert client.get(urls(campaign, 1)[name]).status_code == 405


def test_missing_campaigns_and_items_are_404(client, campaign, lead, project):
    client.force_login(lead)
    assert client.get(reverse("annotation:detail", args=[project.slug, "nope"])).status_code == 404
    assert client.get(urls(campaign, 999_999)["adjudicate_item"]).status_code == 404
    other = services.campaign_create(version=campaign.version, actor=lead, name="Other", task_type="single",
                                     labels=[{"name": "x"}])
    foreign = other.items.first()
    assert client.get(urls(campaign, foreign.pk)["adjudicate_item"]).status_code == 404


# --- List -----------------------------------------------------------------------------------------


def test_managers_see_every_campaign_with_its_progress(client, labelled, engineer, lead):
    services.campaign_create(version=labelled.version, actor=lead, name="Nobody's", task_type="single",
                             labels=[{"name": "a"}])
    client.force_login(engineer)
    html = client.get(urls(labelled, 1)["list"]).content.decode()
    assert "Sentiment" in html and "Nobody&#x27;s" in html
    assert "22 of 24 annotations" in html
    assert '<progress max="100" value="91.7"' in html
    assert reverse("annotation:create", args=[labelled.project.slug]) in html


def test_annotators_see_only_their_campaigns_with_a_label_button(client, campaign, annotator, stranger, lead):
    services.campaign_create(version=campaign.version, actor=lead, name="Elsewhere", task_type="single",
                             labels=[{"name": "a"}])
    client.force_login(annotator)
    html = client.get(urls(campaign, 1)["list"]).content.decode()
    assert "Sentiment" in html and "Elsewhere" not in html
    assert reverse("annotation:label", args=[campaign.project.slug, campaign.slug]) in html
    assert "New campaign" not in html
    client.force_login(stranger)
    html = client.get(urls(campaign, 1)["list"]).content.decode()
    assert "Sentiment" not in html and "No labelling campaigns for you" in html


def test_a_closed_campaign_has_no_label_button(client, campaign, annotator, lead):
    services.campaign_close(campaign=campaign, actor=lead)
    client.force_login(annotator)
    html = client.get(urls(campaign, 1)["list"]).content.decode()
    assert "Sentiment" in html
    assert reverse("annotation:label", args=[campaign.project.slug, campaign.slug]) not in html


# --- Create ---------------------------------------------------------------------------------------


def test_engineer_creates_a_campaign_and_lands_on_its_page(client, project, text_version, engineer, annotator,
                                                           viewer):
    client.force_login(engineer)
    page = client.get(urls_for_project(project)["create"]).content.decode()
    assert f'value="{text_version.pk}"' in page
    assert f'value="{annotator.pk}"' in page and f'value="{viewer.pk}"' not in page  # viewers never annotate
    response = client.post(urls_for_project(project)["create"],
                           {**create_payload(text_version), "annotators": [annotator.pk, engineer.pk]})
    assert response.status_code == 302
    campaign = Campaign.objects.get(project=project, slug="tone")
    assert response.url == reverse("annotation:detail", args=[project.slug, "tone"])
    labels = list(campaign.labels.values_list("name", "colour", "shortcut"))
    assert labels[0] == ("positive", "#2ca02c", "p")
    assert labels[1][0::2] == ("negative", "n") and labels[2][0::2] == ("not sure", "")
    assert set(campaign.annotators.all()) == {annotator, engineer}
    assert (campaign.overlap, campaign.blind, campaign.seed) == (2, True, 3)
    assert campaign.items.count() == text_version.item_count
    assert campaign.guideline_versions.get().introduction == "Read the **whole** text."
    detail = client.get(response.url).content.decode()
    assert "Campaign “Tone” created with 12 items." in detail


def urls_for_project(project) -> dict[str, str]:
    return {"create": reverse("annotation:create", args=[project.slug]),
            "list": reverse("annotation:list", args=[project.slug])}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"labels": ""}, "This field is required."),
    ({"labels": "a\nA"}, "The label &quot;A&quot; is listed twice."),
    ({"labels": "a, #12345z"}, "The colour of &quot;a&quot; must look like #1f77b4."),
    ({"labels": "a, xy"}, "The shortcut of &quot;a&quot; must be one letter or digit."),
    ({"labels": "a, #111111, #222222"}, "Line 1: two colours given."),
    ({"labels": "O"}, "&quot;O&quot; is reserved"),
    ({"overlap": 0}, "Ensure this value is greater than or equal to 1."),
    ({"overlap": "many"}, "Enter a whole number."),
    ({"seed": -1}, "Ensure this value is greater than or equal to 0."),
    ({"lock_ttl_seconds": 5}, "Ensure this value is greater than or equal to 30."),
    ({"task_type": "poem"}, "Select a valid choice."),
    ({"order": "alphabetical"}, "Select a valid choice."),
    ({"version": 999_999}, "Select a valid choice."),
    ({"version": "x"}, "Select a valid choice."),
    ({"name": ""}, "This field is required."),
    ({"slug": "not a slug!"}, "Enter a valid “slug”"),
])
def test_bad_create_input_is_a_400_with_the_reason_and_creates_nothing(client, project, text_version, engineer,
                                                                       overrides, message):
    client.force_login(engineer)
    response = client.post(urls_for_project(project)["create"], create_payload(text_version, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Campaign.objects.exists()


def test_create_refuses_spans_on_images_other_projects_versions_and_taken_addresses(
        client, project, private_project, text_version, engineer, lead):
    client.force_login(engineer)
    images = make_version(project, kind="image", slug="shapes", count=4)
    response = client.post(urls_for_project(project)["create"], create_payload(images, task_type="span"))
    assert response.status_code == 400 and "Span labelling needs a text dataset." in response.content.decode()
    foreign = make_version(private_project, slug="foreign")
    response = client.post(urls_for_project(project)["create"], create_payload(foreign))
    assert response.status_code == 400 and "Select a valid choice." in response.content.decode()
    pending = make_version(project, slug="pending")
    DatasetVersion.objects.filter(pk=pending.pk).update(state=VersionState.PENDING)
    assert client.post(urls_for_project(project)["create"], create_payload(pending)).status_code == 400
    assert client.post(urls_for_project(project)["create"], create_payload(text_version)).status_code == 302
    again = client.post(urls_for_project(project)["create"], create_payload(text_version))
    assert again.status_code == 400
    assert "This project already has a campaign at &quot;tone&quot;." in again.content.decode()
    assert Campaign.objects.count() == 1


def test_an_image_campaign_is_created_from_an_image_version(client, project, engineer):
    images = make_version(project, kind="image", slug="shapes", count=4)
    client.force_login(engineer)
    response = client.post(urls_for_project(project)["create"],
                           create_payload(images, task_type="multi", labels="round\nred"))
    assert response.status_code == 302
    assert Campaign.objects.get().media == "image"


# --- Detail ---------------------------------------------------------------------------------------


def plotly_figures(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" data-plotly-for="([^"]+)">(.*?)</script>', html, re.S)
    return {element: json.loads(body) for element, body in found}


def test_detail_shows_progress_per_annotator_chart_agreement_and_releases(client, labelled, lead, engineer,
                                                                          annotator):
    # The shape the agreement job stores: the statistics under "stats", beside the timeline.
    AgreementReport.objects.create(campaign=labelled, annotation_count=24, result={"stats": {
        "krippendorff_alpha": {"nominal": {"value": 0.4123, "ci": [0.3, 0.5]}},
        "percent_agreement": {"value": 0.5, "ci": None},
    }, "timeline": [], "ordered": False})
    job = Job.objects.create(kind="dataset_version_write", project=labelled.project)
    version = DatasetVersion.objects.create(dataset=labelled.version.dataset, number=2, state=VersionState.READY,
                                            job=job, parent=labelled.version)
    LabelRelease.objects.create(campaign=labelled, job=job, summary={"gold": 1, "majority": 5, "undecided": 6},
                                created_by=lead)
    client.force_login(engineer)
    html = client.get(urls(labelled, 1)["detail"]).content.decode()
    assert "92%" in html
    figure = plotly_figures(html)["annotators-chart"]
    bars = dict(zip(figure["data"][0]["x"], figure["data"][0]["y"], strict=True))
    assert bars == {"annotator": 12, "engineer": 10, "lead": 0}
    assert "0.412" in html and "50.0%" in html
    version_url = reverse("datasets:version", args=[labelled.project.slug, version.dataset.slug, 2])
    assert f'href="{version_url}"' in html
    for action in ("close", "release", "active"):
        assert f'action="{urls(labelled, 1)[action]}"' in html
    assert reverse("annotation:adjudicate", args=[labelled.project.slug, labelled.slug]) not in html  # lead only
    client.force_login(lead)
    html = client.get(urls(labelled, 1)["detail"]).content.decode()
    assert f'href="{reverse("annotation:adjudicate", args=[labelled.project.slug, labelled.slug])}"' in html


def test_detail_survives_an_agreement_report_of_another_shape(client, campaign, engineer):
    AgreementReport.objects.create(campaign=campaign, result={"krippendorff_alpha": "n/a", "percent_agreement": None})
    client.force_login(engineer)
    response = client.get(urls(campaign, 1)["detail"])
    assert response.status_code == 200
    assert "Krippendorff" in response.content.decode()


def test_an_annotator_sees_progress_but_no_management(client, labelled, annotator):
    client.force_login(annotator)
    html = client.get(urls(labelled, 1)["detail"]).content.decode()
    assert "Label" in html and reverse("annotation:label", args=[labelled.project.slug, labelled.slug]) in html
    assert "annotators-chart" not in html
    for action in ("close", "release", "active", "edit", "guideline_edit"):
        assert urls(labelled, 1)[action] not in html


# --- Settings -------------------------------------------------------------------------------------


def test_settings_change_the_campaign(client, campaign, engineer, annotator, stranger):
    client.force_login(engineer)
    response = client.post(urls(campaign, 1)["edit"], {
        "name": "Tone v2", "lock_ttl_seconds": 120, "annotators": [stranger.pk, annotator.pk],
    })
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.lock_ttl_seconds, campaign.blind) == ("Tone v2", 120, False)
    assert set(campaign.annotators.all()) == {stranger, annotator}


def test_bad_settings_are_400s_and_change_nothing(client, campaign, engineer, viewer):
    client.force_login(engineer)
    bad = client.post(urls(campaign, 1)["edit"], {"name": "", "lock_ttl_seconds": 10})
    assert bad.status_code == 400
    assert "This field is required." in bad.content.decode()
    assert "Ensure this value is greater than or equal to 30." in bad.content.decode()
    viewer_as_annotator = client.post(urls(campaign, 1)["edit"],
                                      {"name": "X", "lock_ttl_seconds": 600, "annotators": [viewer.pk]})
    assert viewer_as_annotator.status_code == 400
    campaign.refresh_from_db()
    assert campaign.name == "Sentiment" and not campaign.annotators.filter(pk=viewer.pk).exists()


def test_a_closed_campaign_is_reopened_from_its_settings(client, campaign, lead):
    services.campaign_close(campaign=campaign, actor=lead)
    client.force_login(lead)
    page = client.get(urls(campaign, 1)["edit"]).content.decode()
    assert "Reopen the campaign" in page
    assert client.post(urls(campaign, 1)["edit"], {"reopen": "1"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "open" and campaign.closed_at is None


# --- Close and release ----------------------------------------------------------------------------


def test_closing_without_decided_labels_closes_and_says_nothing_was_written(client, campaign, engineer):
    client.force_login(engineer)
    response = client.post(urls(campaign, 1)["close"], follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.state == "closed"
    assert "is closed. No labels were written: No item has a decided label yet" in response.content.decode()
    assert not LabelRelease.objects.exists()


def test_release_of_a_version_whose_files_are_missing_is_a_message_not_a_500(client, labelled, engineer):
    # The fixture's version lives only in the database (no DVC repository behind it).
    client.force_login(engineer)
    response = client.post(urls(labelled, 1)["release"], follow=True)
    assert response.status_code == 200
    assert "No labels were written: The files of" in response.content.decode()
    assert not LabelRelease.objects.exists() and not Job.objects.exists()


def test_a_span_campaign_release_writes_a_version_like_the_others(client, text_version, lead, annotator):
    # Spans are written through the same version write (tests/annotation/test_release.py runs it
    # end to end); this fixture's version has no files behind it, so the release says so.
    campaign = services.campaign_create(version=text_version, actor=lead, name="Places", task_type="span",
                                        labels=[{"name": "PLACE"}], overlap=1, annotators=[annotator])
    task = services.task_claim(campaign=campaign, annotator=annotator)
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task,
                               value=[{"start": 0, "end": 3, "label": "PLACE"}])
    client.force_login(lead)
    page = client.get(urls(campaign, 1)["detail"]).content.decode()
    assert "The spans decided so far (gold, else strict majority), written now as a new version." in page
    response = client.post(urls(campaign, 1)["release"], follow=True)
    assert response.status_code == 200
    assert "No labels were written: The files of" in response.content.decode()
    assert not LabelRelease.objects.exists() and not Job.objects.exists()


# --- Adjudication ---------------------------------------------------------------------------------


def test_the_queue_lists_disagreements_with_the_votes_and_who_cast_them(client, labelled, lead):
    client.force_login(lead)
    html = client.get(urls(labelled, 1)["adjudicate"]).content.decode()
    queue = selectors.disagreements(campaign=labelled)
    assert queue and html.count('<tr data-item="') == len(queue)
    item = disagreement(labelled)
    assert f'<div class="item-text" dir="auto">{item.item.text}</div>' in html
    assert "<strong dir=\"auto\">positive</strong>: annotator" in html
    assert "<strong dir=\"auto\">neutral</strong>: engineer" in html
    assert 'data-testid="human-baseline-method">estimated from agreement<' in html  # no gold sample yet


def test_deciding_sets_the_gold_label_adds_an_example_and_shows_the_human_baseline(client, labelled, lead):
    client.force_login(lead)
    item = disagreement(labelled)
    waiting = len(selectors.disagreements(campaign=labelled))
    page = client.get(urls(labelled, item.pk)["adjudicate_item"]).content.decode()
    assert item.item.text in page and 'name="gold"' in page
    response = client.post(urls(labelled, item.pk)["adjudicate_item"], {
        "gold": "neutral", "note": "Flat tone", "add_example": "on", "example_note": "No feeling either way",
    }, follow=True)
    assert response.status_code == 200
    assert "Gold label saved. Added to the guideline as an example of “neutral” (v2)." in response.content.decode()
    item.refresh_from_db()
    assert (item.gold, item.gold_by, item.gold_note) == ("neutral", lead, "Flat tone")
    example = GuidelineExample.objects.get(guideline__campaign=labelled, guideline__number=2)
    assert (example.label, example.campaign_item_id, example.positive, example.note) == (
        "neutral", item.pk, True, "No feeling either way")
    html = response.content.decode()
    assert html.count('<tr data-item="') == waiting - 1  # the decided item left the queue
    # A decided disagreement is no measure of the annotators: the baseline still comes from their
    # agreement over the 10 items two of them labelled: too few items to compare with models.
    assert "baseline-chart" not in html
    assert "Too few items to compare with models: 10, fewer than 30." in html


def test_a_decided_gold_sample_shows_each_annotators_accuracy_with_intervals(client, labelled, lead):
    services.gold_sample_draw(campaign=labelled, actor=lead, size=10, seed=0)
    client.force_login(lead)
    sample = list(CampaignItem.objects.filter(campaign=labelled, gold_sample__isnull=False).select_related("item"))
    agreed = sum(int(item.item.key[-1]) % 2 == 0 for item in sample)
    assert len(sample) == 10 and 0 < agreed < 10
    for item in sample:
        number = int(item.item.key[-1])
        gold = "positive" if number in (0, 4, 8) else ("negative" if number % 2 == 0 else "neutral")
        assert client.post(urls(labelled, item.pk)["adjudicate_item"], {"gold": gold}).status_code == 302
    html = client.get(urls(labelled, 1)["adjudicate"]).content.decode()
    figure = plotly_figures(html)["baseline-chart"]
    # Both right on the items they agreed on; on the others the engineer (neutral) is, the annotator not.
    assert dict(zip(figure["data"][0]["x"], figure["data"][0]["y"], strict=True)) == {
        "annotator": agreed / 10, "engineer": 1.0}
    assert figure["data"][0]["error_y"]["arrayminus"][1] > 0  # 10 of 10 still has an interval below 1
    mean = (agreed + (10 - agreed) / 2) / 10
    assert f'<strong data-testid="human-baseline-mean">{mean:.3f}</strong>' in html
    assert "Too few items to compare with models: 10, fewer than 30." in html


def test_deciding_without_an_example_publishes_no_guideline(client, labelled, lead):
    client.force_login(lead)
    item = disagreement(labelled)
    assert client.post(urls(labelled, item.pk)["adjudicate_item"], {"gold": "positive"}).status_code == 302
    assert labelled.guideline_versions.count() == 1


@pytest.mark.parametrize("data", [{}, {"gold": "joy"}, {"gold": "positive", "note": "x" * 301},
                                  {"gold": "positive", "example_note": "y" * 301, "add_example": "on"}])
def test_bad_decisions_are_400s_and_change_nothing(client, labelled, lead, data):
    client.force_login(lead)
    item = disagreement(labelled)
    response = client.post(urls(labelled, item.pk)["adjudicate_item"], data)
    assert response.status_code == 400
    item.refresh_from_db()
    assert item.gold is None


def test_multi_label_gold_and_its_example_label(client, text_version, lead, annotator, engineer):
    campaign = services.campaign_create(version=text_version, actor=lead, name="Topics", task_type="multi",
                                        labels=[{"name": "late"}, {"name": "damaged"}, {"name": "refund"}],
                                        overlap=2, annotators=[annotator, engineer])
    label_everything(campaign, [annotator, engineer],
                     lambda person, task: ["late"] if person == annotator else ["late", "damaged"])
    item = disagreement(campaign)
    client.force_login(lead)
    url = urls(campaign, item.pk)["adjudicate_item"]
    unclear = client.post(url, {"gold": ["late", "damaged"], "add_example": "on"})
    assert unclear.status_code == 400
    assert "Choose the label this example illustrates." in unclear.content.decode()
    assert client.post(url, {"gold": ["damaged", "late"], "add_example": "on",
                             "example_label": "damaged"}).status_code == 302
    item.refresh_from_db()
    assert item.gold == ["late", "damaged"]  # the campaign's label order
    assert GuidelineExample.objects.get(guideline__number=2).label == "damaged"


def test_span_gold_is_one_annotators_spans(client, text_version, lead, annotator, engineer):
    campaign = services.campaign_create(version=text_version, actor=lead, name="Places", task_type="span",
                                        labels=[{"name": "PLACE"}, {"name": "PERSON"}], overlap=2,
                                        annotators=[annotator, engineer])
    label_everything(campaign, [annotator, engineer], lambda person, task: (
        [{"start": 0, "end": 3, "label": "PLACE"}] if person == annotator else []))
    item = disagreement(campaign)
    chosen = Annotation.objects.get(campaign_item=item, annotator=annotator)
    client.force_login(lead)
    url = urls(campaign, item.pk)["adjudicate_item"]
    page = client.get(url).content.decode()
    assert f"“<span dir=\"auto\">{item.item.text[:3]}</span>”" in page
    assert client.post(url, {"gold": str(chosen.pk), "add_example": "on"}).status_code == 302
    item.refresh_from_db()
    assert item.gold == [{"start": 0, "end": 3, "label": "PLACE"}]
    assert GuidelineExample.objects.get(guideline__number=2).label == "PLACE"
    assert client.post(url, {"gold": "999999"}).status_code == 400


# --- Guideline ------------------------------------------------------------------------------------


def test_publishing_a_guideline_with_definitions_and_the_disagreements_behind_it(client, labelled, engineer):
    client.force_login(engineer)
    url = urls(labelled, 1)["guideline_edit"]
    page = client.get(url).content.decode()
    assert "The writer is pleased." in page  # v1's definition, prefilled
    causes = [r["campaign_item_id"] for r in selectors.disagreements(campaign=labelled)[:2]]
    for pk in causes:
        assert f'value="{pk}"' in page
    response = client.post(url, {
        "introduction": "Judge the writer, not the topic.", "definition_0": "Pleased.", "definition_1": "Unhappy.",
        "definition_2": "Neither.", "change_note": "Neutral means no feeling, not mixed feelings.",
        "caused_by": causes,
    })
    assert response.status_code == 302
    guideline = labelled.guideline_versions.get(number=2)
    assert guideline.introduction == "Judge the writer, not the topic."
    assert {d.label: d.definition for d in guideline.definitions.all()} == {
        "positive": "Pleased.", "negative": "Unhappy.", "neutral": "Neither."}
    assert sorted(guideline.caused_by.values_list("pk", flat=True)) == sorted(causes)


@pytest.mark.parametrize("data", [
    {"introduction": "x", "change_note": ""},
    {"introduction": "x", "change_note": "   "},
    {"introduction": "x", "change_note": "ok", "caused_by": ["999999"]},
    {"introduction": "x", "change_note": "ok", "caused_by": ["abc"]},
])
def test_bad_guideline_input_is_a_400_and_publishes_nothing(client, labelled, engineer, data):
    client.force_login(engineer)
    response = client.post(urls(labelled, 1)["guideline_edit"], data)
    assert response.status_code == 400
    assert labelled.guideline_versions.count() == 1


# --- Active labelling -----------------------------------------------------------------------------


def test_ordering_by_uncertainty_without_enough_labels_says_what_is_missing(client, campaign, engineer):
    client.force_login(engineer)
    response = client.post(urls(campaign, 1)["active"], {"method": "entropy"})
    assert response.status_code == 400
    assert "Active labelling needs at least 2 labels with 2 or more decided examples" in response.content.decode()
    assert not Job.objects.exists()


def test_ordering_by_uncertainty_starts_the_job(client, campaign, engineer, annotator, project):
    # Enough labels: one annotator labels half the items, so the other half is still to score.
    items = list(campaign.items.select_related("item").order_by("position"))
    for index, task in enumerate(items[:6]):
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task,
                                   value="positive" if index % 2 else "negative")
    client.force_login(engineer)
    assert client.post(urls(campaign, 1)["active"], {"method": "poetry"}).status_code == 400
    response = client.post(urls(campaign, 1)["active"], {"method": "margin"})
    assert response.status_code == 302
    job = Job.objects.get(kind="annotation_active")
    assert response.url == reverse("projects:job", args=[job.pk])
    assert (job.params, job.target_id, job.project_id) == ({"method": "margin"}, campaign.pk, project.pk)


def test_unknown_users_in_annotator_choices_are_refused(client, campaign, engineer):
    client.force_login(engineer)
    nobody = get_user_model().objects.order_by("-pk").first().pk + 100
    response = client.post(urls(campaign, 1)["edit"], {"name": "X", "lock_ttl_seconds": 600, "annotators": [nobody]})
    assert response.status_code == 400
