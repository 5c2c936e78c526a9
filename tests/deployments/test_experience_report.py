"""The experience report (deliverable 8) and the deployment's evidence panel (deliverable 7): the
report's draft carries the project's key numbers, each equal to its source and linked to it; it is
submitted only after the deployment is approved and with every section written; approving it
completes the project, which the directory and the public project page then mark as a success
with the report published. The panels show each reader only what the policy lets them see.
(The evidence is made by tests/deployments/report_helpers.py.)"""

from __future__ import annotations

import html
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from datasets.annotation import services as annotation_services
from datasets.annotation.agreement.jobs import agreement_start
from datasets.annotation.models import AgreementReport
from deployments import panels, report
from prakriya.jobs.models import JobState
from prakriya.jobs.runner import job_execute
from prakriya.lib.markdown import render_markdown
from projects import services as project_services
from projects.models import STAGE_COMPLETE, DeliverableKind, DeliverableState
from tests.deployments.report_helpers import approve_until, evidence
from tests.fixtures_annotation import make_version

pytestmark = pytest.mark.django_db

REPORT = DeliverableKind.EXPERIENCE_REPORT
WRITTEN = "\n\n".join(f"## {section}\n\nWe learnt something about {section.lower()}." for section in panels.SECTIONS)


def _write(project, engineer, body: str = WRITTEN):
    deliverable = project.deliverables.get(kind=REPORT)
    return project_services.deliverable_save_body(deliverable=deliverable, actor=engineer, body=body)


def _page(client, project, kind=REPORT):
    return client.get(reverse("projects:deliverable", args=[project.slug, kind]))


# --- The draft's numbers ---------------------------------------------------------------------


def _link(value: str, url: str) -> str:
    return f"[{value}]({url})"


@pytest.mark.django_db(transaction=True)  # the agreement job runs as a worker would: committed rows
def test_the_draft_carries_each_key_number_equal_to_its_source_and_linked_to_it(
    client, project, lead, engineer, annotator, campaign
):
    world = evidence(project)
    for index, item in enumerate(campaign.items.order_by("position")):
        annotation_services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=item,
                                              value="positive")
        annotation_services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=item,
                                              value="negative" if index < 3 else "positive")
    assert job_execute(agreement_start(campaign=campaign, actor=lead).pk) == JobState.SUCCEEDED
    agreement = AgreementReport.objects.get(campaign=campaign).result["stats"]

    client.force_login(engineer)
    page = _page(client, project)
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.content.decode(), re.S)
    body = html.unescape(textarea.group(1))
    slug = project.slug

    # Data: the version's page; agreement: the campaign's latest report, its agreement page.
    version = world["version"]
    assert _link(f"{version.item_count} items, {version.labelled_count} labelled",
                 reverse("datasets:version", args=[slug, "digits", 1])) in body
    alpha = agreement["krippendorff_alpha"]["nominal"]["value"]
    percent = agreement["percent_agreement"]["value"]
    assert _link(f"α = {alpha:.3f}, {percent * 100:.1f}% pairwise agreement",
                 reverse("annotation:agreement", args=[slug, campaign.slug])) in body
    # The best baseline and the best run on the primary target's validation metric (never the
    # training accuracy the MLP also logged), each linked to its run.
    assert f"| Best baseline | logreg seed 7 | {_link('0.8123', reverse('experiments:run', args=[slug, world['baseline'].mlflow_run_id]))}" in body
    assert f"| Best run | mlp seed 7 | {_link('0.9456', reverse('experiments:run', args=[slug, world['best'].mlflow_run_id]))}" in body
    assert "0.9990" not in body and "0.1200" not in body
    # The sealed result: the evaluation's accuracy and macro-F1, linked to the evaluation.
    evaluation_url = reverse("experiments:evaluation", args=[slug, world["evaluation"].pk])
    assert _link("0.9250", evaluation_url) in body and _link("0.9011", evaluation_url) in body
    # The benchmark's verdict and the deployment with its canary and its logged predictions.
    benchmark = report.benchmark_number(project=project, benchmark=world["benchmark"])
    assert benchmark.value == "inside the targets (2 met)" and benchmark.value in body
    assert "canary Export" in body and "at 10%" in body and "3 predictions logged" in body
    # Never a prediction's input.
    assert "production input" not in body
    # The timeline and the six sections to write.
    created = project.timeline.get(verb="created").created_at
    assert f"## Timeline\n\n- {created:%Y-%m-%d}: Project “Digits” created\n" in body
    for section in panels.SECTIONS:
        assert f"\n## {section}\n" in body

    # The panel beside it shows the same numbers, linked.
    panel = page.content.decode()
    panel = panel[panel.index('data-testid="key-numbers"'):]
    assert f'<a href="{evaluation_url}">0.9250</a>' in panel
    assert f'href="{reverse("experiments:run", args=[slug, world["best"].mlflow_run_id])}">0.9456</a>' in panel


def test_a_saved_report_is_not_replaced_by_the_draft(client, project, engineer):
    _write(project, engineer, body="Our own words.")
    client.force_login(engineer)
    page = html.unescape(_page(client, project).content.decode())
    assert "Our own words." in page and "## Key numbers" not in page


def test_a_number_without_a_page_in_this_build_is_shown_without_a_link():
    assert report.source_url("deployments:no-such-page", slug="digits", pk=1) == ""
    assert report.source_url("experiments:evaluation", slug="digits", pk=3) == "/projects/digits/evaluations/3/"


def test_names_stay_text_in_the_draft(project, lead):
    make_version(project, kind="image", slug="evil", count=1)
    project.datasets.filter(slug="evil").update(name="[click](javascript:alert(1)) | *x*")
    body = panels.report_draft(user=lead, project=project)
    assert r"\[click\](javascript:alert(1)) \| \*x\*" in body
    rendered = render_markdown(body)
    assert 'href="javascript' not in rendered and "[click](javascript:alert(1)) | *x*" in html.unescape(rendered)


# --- Submitting and approving ----------------------------------------------------------------


def test_the_report_is_submitted_only_once_the_deployment_is_approved(project, lead, engineer):
    deliverable = _write(project, engineer)
    approve_until(project, lead, DeliverableKind.ERROR_ANALYSIS)
    with pytest.raises(ValidationError, match="once the deployment deliverable is approved"):
        project_services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")

    approve_until(project, lead, DeliverableKind.DEPLOYMENT)
    submitted = project_services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")
    assert submitted.state == DeliverableState.SUBMITTED


def test_the_report_is_submitted_only_with_every_section_written(project, lead, engineer):
    approve_until(project, lead, DeliverableKind.DEPLOYMENT)
    body = panels.report_draft(user=lead, project=project) + "\n## What worked\n"
    body = body.replace("## What worked\n\n", "## What worked\n\nThe canary caught a bad int8 model.\n", 1)
    deliverable = _write(project, engineer, body=body)
    with pytest.raises(ValidationError, match="still empty or missing: What did not, Data lessons"):
        project_services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")


def test_the_submit_refusal_reads_on_the_page(client, project, engineer):
    _write(project, engineer)
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, REPORT]),
                           {"action": "submit"}, follow=True)
    assert "once the deployment deliverable is approved" in response.content.decode()
    assert project.deliverables.get(kind=REPORT).state == DeliverableState.DRAFT


def _complete(project, lead, engineer, body: str = WRITTEN):
    approve_until(project, lead, DeliverableKind.DEPLOYMENT)
    deliverable = _write(project, engineer, body=body)
    project_services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")
    project_services.deliverable_transition(deliverable=deliverable, actor=lead, action="approve")
    project.refresh_from_db()


def test_approving_the_report_completes_the_project_and_the_directory_marks_it_a_success(
    project, private_project, lead, engineer
):
    other = project_services.project_create(creator=lead, slug="forms", title="Forms")
    approve_until(other, lead, DeliverableKind.DEPLOYMENT)  # deployed, but no report yet
    _complete(project, lead, engineer)
    assert project.stage == STAGE_COMPLETE and project.is_complete

    directory = Client().get(reverse("projects:directory")).content.decode()
    cards = {title: card for card in directory.split('<li class="card project-card">')[1:]
             for title in re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', card)}
    assert 'data-testid="success-mark"' in cards["Digits"]
    assert f'href="/projects/{project.slug}/#experience-report"' in cards["Digits"]
    assert "Deployed — success" in cards["Digits"]
    assert "success-mark" not in cards["Forms"]


def test_the_published_report_is_sanitised_markdown_on_the_public_project_page(project, lead, engineer):
    body = WRITTEN.replace("We learnt something about what worked.",
                           "A **canary** at 10%. <script>alert(1)</script> [x](javascript:alert(1))")
    _complete(project, lead, engineer, body=body)
    page = Client().get(reverse("projects:detail", args=[project.slug])).content.decode()
    published = page[page.index('data-testid="published-report"'):]
    published = published[: published.index("</section>")]
    assert "<h2>What worked</h2>" in published and "<strong>canary</strong>" in published
    assert "<script>" not in published and "javascript:" not in published.replace("javascript:alert(1))", "")
    assert 'data-testid="success-mark"' in page


def test_a_report_waiting_for_review_is_not_published(project, lead, engineer):
    approve_until(project, lead, DeliverableKind.DEPLOYMENT)
    deliverable = _write(project, engineer)
    project_services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")
    page = Client().get(reverse("projects:detail", args=[project.slug])).content.decode()
    assert "published-report" not in page and "success-mark" not in page


def test_an_anonymous_visitor_gets_404_on_a_completed_private_project(private_project, lead, engineer, outsider):
    _complete(private_project, lead, engineer)
    assert Client().get(reverse("projects:detail", args=[private_project.slug])).status_code == 404
    directory = Client().get(reverse("projects:directory")).content.decode()
    assert "Secret forms" not in directory and "success-mark" not in directory
    outsider_client = Client()
    outsider_client.force_login(outsider)
    assert outsider_client.get(reverse("projects:detail", args=[private_project.slug])).status_code == 404
    member = Client()
    member.force_login(engineer)
    assert 'data-testid="published-report"' in member.get(
        reverse("projects:detail", args=[private_project.slug])).content.decode()


# --- Who sees what in the panels -----------------------------------------------------------


def _key_panel(client, project) -> str:
    page = _page(client, project).content.decode()
    return page[page.index('data-testid="key-numbers"'):page.index("</section>", page.index('data-testid="key-numbers"'))]


def test_an_annotator_of_a_private_project_sees_its_data_but_not_its_runs_results_or_log(
    client, private_project, lead, annotator, viewer, engineer
):
    world = evidence(private_project)
    client.force_login(annotator)
    panel = _key_panel(client, private_project)
    assert "Digits v1" in panel and 'data-testid="runs-hidden"' in panel
    for hidden in ("0.9456", "0.8123", "0.9250", "Digits API", "prediction-count"):
        assert hidden not in panel
    deployment = _page(client, private_project, DeliverableKind.DEPLOYMENT).content.decode()
    assert 'data-testid="deployments-hidden"' in deployment
    assert str(world["fp32"]) not in deployment

    # A viewer follows the model (runs, result, deployments) but not the prediction log.
    client.force_login(viewer)
    panel = _key_panel(client, private_project)
    assert "0.9456" in panel and "0.9250" in panel and "Digits API" in panel
    assert "prediction-count" not in panel
    client.force_login(engineer)
    assert "3 predictions logged" in _key_panel(client, private_project)


def test_outsiders_read_a_public_projects_numbers_but_never_its_prediction_log(client, project, outsider):
    evidence(project)
    for who in (None, outsider):
        reader = Client()
        if who is not None:
            reader.force_login(who)
        panel = _key_panel(reader, project)
        assert "0.9456" in panel and "0.9250" in panel and "Digits API" in panel
        assert "prediction-count" not in panel and "predictions logged" not in panel
        # Nobody outside the team gets the draft (it is the editor's starting point).
        assert "<textarea" not in _page(reader, project).content.decode()


def test_an_outsider_gets_404_on_a_private_projects_report(client, private_project, outsider):
    evidence(private_project)
    client.force_login(outsider)
    assert _page(client, private_project).status_code == 404
    assert _page(Client(), private_project).status_code == 404


def test_the_deployment_panel_lists_ready_exports_benchmarks_and_rollouts(client, project, viewer):
    world = evidence(project)
    client.force_login(viewer)
    page = _page(client, project, DeliverableKind.DEPLOYMENT).content.decode()
    panel = page[page.index('data-testid="deployment-evidence"'):]
    rows = re.findall(r'data-testid="export-row"', panel)
    assert len(rows) == 2  # the fp32 export and its int8 variant; the pending one is not ready
    assert f"Export {world['pending'].pk}<" not in panel
    assert "max_abs_diff 2e-07" in panel and "agreement 0.975" in panel and "int8 (dynamic quantisation)" in panel
    assert reverse("experiments:run", args=[project.slug, world["best"].mlflow_run_id]) in panel
    assert "Inside the targets" in panel and "latency_p95 ≤ 50 ms" in panel and "Met" in panel
    assert "Digits API" in panel and "at 10%" in panel and "canary started" in panel
    assert "predictions logged" not in panel  # a viewer does not read the prediction log


def test_a_benchmark_that_misses_a_target_says_so(project):
    world = evidence(project)
    world["benchmark"].targets = [{"target": "latency_p95 ≤ 1 ms", "value": 1.2, "met": False},
                                  {"target": "model_size ≤ 1 MB", "value": 0.1, "met": True}]
    world["benchmark"].save()
    assert world["benchmark"].inside_targets is False
    assert report.benchmark_verdict(world["benchmark"]) == "1 target missed, 1 met"
