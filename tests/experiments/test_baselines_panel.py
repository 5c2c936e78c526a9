"""The baselines deliverable (deliverable 3): the project's baseline runs with their validation
metrics, next to the human baseline and the targets, and a chart of the primary metric; it is
submitted only with a finished baseline run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from datasets.annotation import services as annotation_services
from experiments import mlflow_store
from experiments.panels import baselines_context
from projects import services as project_services
from projects.models import DeliverableKind, DeliverableState
from tests.conftest import ROLES
from tests.experiments.runs_helpers import logged_run
from tests.fixtures_annotation import bulk_annotations, make_version, more_annotators
from tests.matrix import check_matrix, signed_in

pytestmark = pytest.mark.django_db


def baseline_run(project, name: str, *, trainer: str | None = None, metrics: dict[str, float],
                 finished: bool = True, tags: dict[str, str] | None = None):
    """A run as a baseline trainer logs it: its trainer in the kind tag, validation metrics."""
    tags = dict(tags or {})
    if trainer:
        tags[mlflow_store.TAG_KIND] = trainer
    record = logged_run(project, name=name, tags=tags, train=[1.0, 0.5], val=[1.0, 0.6], finished=False)
    client = mlflow_store.client()
    for key, value in metrics.items():
        client.log_metric(record.mlflow_run_id, key, value)
    if finished:
        client.set_terminated(record.mlflow_run_id, status="FINISHED")
    return record


def _targets(project, lead):
    project_services.target_save(project=project, actor=lead, metric="accuracy", comparator=">=", threshold=0.9,
                                 is_primary=True)
    project_services.target_save(project=project, actor=lead, metric="macro_f1", comparator=">=", threshold=0.5)


def _human_baseline(project, lead):
    """Two annotators against the lead's gold labels on a gold sample of 40 items: one right on all,
    the other on half, a mean of 0.75 on enough items to compare with models."""
    a, b = more_annotators(project, 2)
    campaign = annotation_services.campaign_create(
        version=make_version(project, slug="tone", count=40), actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive"}, {"name": "negative"}], overlap=2, annotators=[a, b],
    )
    items = list(campaign.items.order_by("pk"))
    bulk_annotations(campaign, [(item, a, "positive") for item in items]
                     + [(item, b, "positive" if i % 2 else "negative") for i, item in enumerate(items)])
    annotation_services.gold_sample_draw(campaign=campaign, actor=lead, size=40, seed=0)
    campaign.items.update(gold="positive")
    return a, b


def _url(project) -> str:
    return reverse("projects:deliverable", args=[project.slug, "baselines"])


def test_baseline_runs_sit_next_to_the_targets_and_the_human_baseline(client, project, lead, viewer):
    _targets(project, lead)
    a, _ = _human_baseline(project, lead)
    baseline_run(project, "logreg seed 7", trainer="logistic_regression",
                 metrics={"val_accuracy": 0.93, "val_macro_f1": 0.61})
    baseline_run(project, "majority class", trainer="majority", metrics={"val_accuracy": 0.34, "val_macro_f1": 0.17})
    baseline_run(project, "notebook baseline", metrics={"val_accuracy": 0.88},
                 tags={mlflow_store.TAG_STAGE: "baseline"})
    baseline_run(project, "fancy mlp", trainer="mlp", metrics={"val_accuracy": 0.99})

    client.force_login(viewer)
    page = client.get(_url(project)).content.decode()
    panel = page[page.index('data-testid="baseline-runs"'):]
    assert "logreg seed 7" in panel and "majority class" in panel and "notebook baseline" in panel
    assert "fancy mlp" not in panel  # a torch run is not a baseline unless tagged so
    assert "0.9300" in panel and "0.6100" in panel  # val_accuracy and val_macro_f1, side by side
    assert "accuracy ≥ 0.9" in panel and "macro_f1 ≥ 0.5" in panel
    assert "0.9300 meets" in panel and "0.3400 misses" in panel and "0.8800 misses" in panel
    assert "0.6100 meets" in panel and "0.1700 misses" in panel
    assert "Human (Sentiment)" in panel and "0.7500 misses" in panel
    assert "0.750, 95% interval 0.6" in panel and "40 items · gold sample" in panel
    assert 'data-testid="human-too-few"' not in panel
    assert a.username not in panel  # the human baseline is a mean, never names
    assert 'data-plotly-for="baselines-chart"' in panel


def test_the_chart_groups_baselines_and_humans_against_the_primary_target(project, lead, viewer):
    _targets(project, lead)
    _human_baseline(project, lead)
    baseline_run(project, "logreg", trainer="logistic_regression", metrics={"val_accuracy": 0.93})
    baseline_run(project, "forest", trainer="random_forest", metrics={"val_accuracy": 0.85})

    figure = json.loads(baselines_context(user=viewer, project=project)["figure"])
    bars = figure["data"][0]
    assert sorted(zip(bars["x"], bars["y"], strict=True)) == [
        ("Human (Sentiment)", 0.75), ("forest", 0.85), ("logreg", 0.93)]
    line = next(shape for shape in figure["layout"]["shapes"] if shape.get("type") == "line")
    assert line["y0"] == line["y1"] == 0.9
    # Only the human bar has an interval: the runs' entries are empty.
    human = bars["x"].index("Human (Sentiment)")
    errors = bars["error_y"]
    assert errors["arrayminus"][human] > 0 and errors["array"][human] > 0
    assert [v for i, v in enumerate(errors["array"]) if i != human] == [None, None]


def test_a_human_baseline_on_too_few_items_is_listed_but_neither_compared_nor_charted(
    client, project, lead, viewer, campaign
):
    _targets(project, lead)
    a, b = more_annotators(project, 2)
    annotation_services.campaign_update(campaign=campaign, actor=lead, annotators=[a, b])
    items = list(campaign.items.order_by("position")[:2])
    for item, (va, vb) in zip(items, [("positive", "negative"), ("neutral", "neutral")], strict=True):
        annotation_services.annotation_submit(campaign=campaign, annotator=a, campaign_item=item, value=va, tool="api")
        annotation_services.annotation_submit(campaign=campaign, annotator=b, campaign_item=item, value=vb, tool="api")
    baseline_run(project, "logreg", trainer="logistic_regression", metrics={"val_accuracy": 0.93})

    context = baselines_context(user=viewer, project=project)
    human = next(row for row in context["rows"] if row.kind == "human")
    assert human.metrics == {} and all(meets is None for _, meets in human.checks)
    assert human.human.items == 2 and human.human.method == "estimated from agreement" and not human.human.comparable
    assert json.loads(context["figure"])["data"][0]["x"] == ["logreg"]
    client.force_login(viewer)
    page = client.get(_url(project)).content.decode()
    panel = page[page.index('data-testid="baseline-runs"'):]
    assert 'data-testid="human-too-few"' in panel and "2 items · estimated from agreement" in panel


def test_a_project_without_baselines_says_so_and_has_no_chart(client, project, lead, viewer):
    _targets(project, lead)
    baseline_run(project, "fancy mlp", trainer="mlp", metrics={"val_accuracy": 0.99})
    client.force_login(viewer)
    page = client.get(_url(project)).content.decode()
    assert 'data-testid="no-baseline-runs"' in page and "baselines-chart" not in page


def test_an_annotator_of_a_private_project_sees_no_runs_in_the_panel(client, private_project, annotator):
    baseline_run(private_project, "secret logreg", trainer="logistic_regression", metrics={"val_accuracy": 0.9})
    client.force_login(annotator)
    page = client.get(_url(private_project)).content.decode()
    assert "secret logreg" not in page and "does not show this project" in page


# --- Submit check ---------------------------------------------------------------------------


def _baselines(project):
    return project.deliverables.get(kind=DeliverableKind.BASELINES)


def _draft(project, engineer):
    project_services.deliverable_save_body(deliverable=_baselines(project), actor=engineer, body="Seeds fixed.")


def test_baselines_cannot_be_submitted_without_a_baseline_run(project, engineer):
    _draft(project, engineer)
    baseline_run(project, "fancy mlp", trainer="mlp", metrics={"val_accuracy": 0.99})
    with pytest.raises(ValidationError, match="finished baseline run"):
        project_services.deliverable_transition(deliverable=_baselines(project), actor=engineer, action="submit")
    assert _baselines(project).state == DeliverableState.DRAFT


def test_a_baseline_still_running_is_not_enough_to_submit(project, engineer):
    _draft(project, engineer)
    baseline_run(project, "logreg", trainer="logistic_regression", metrics={"val_accuracy": 0.9}, finished=False)
    with pytest.raises(ValidationError, match="finished baseline run"):
        project_services.deliverable_transition(deliverable=_baselines(project), actor=engineer, action="submit")


def test_a_finished_baseline_run_lets_the_baselines_be_submitted(client, project, engineer):
    _draft(project, engineer)
    baseline_run(project, "logreg", trainer="logistic_regression", metrics={"val_accuracy": 0.9})
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "baselines"]),
                           {"action": "submit"}, follow=True)
    assert "Submitted for review." in response.content.decode()
    assert _baselines(project).state == DeliverableState.SUBMITTED


# --- Who sees what on the baselines deliverable's page ------------------------------------------


def row(*cells) -> dict[str, Any]:
    return dict(zip(ROLES, cells, strict=True))


@pytest.mark.parametrize(("visibility", "expected", "sees_runs"), [
    ("public", row(200, 200, 200, 200, 200, 200), set(ROLES)),
    ("private", row(404, 404, 200, 200, 200, 200), {"viewer", "engineer", "lead"}),
])
def test_the_baselines_page_shows_runs_to_those_who_may_see_them(
    visibility, expected, sees_runs, users, project, private_project
):
    target = project if visibility == "public" else private_project
    baseline_run(target, "matrix logreg", trainer="logistic_regression", metrics={"val_accuracy": 0.9})
    url = _url(target)

    def also(role, response, want):
        shown = b"matrix logreg" in response.content
        if want == 200 and shown != (role in sees_runs):
            return f"the baseline run is {'shown' if shown else 'missing'}"
        return None

    check_matrix(route="deliverable baselines GET", visibility=visibility, expected=expected,
                 send=lambda role: signed_in(users[role]).get(url), also=also)
