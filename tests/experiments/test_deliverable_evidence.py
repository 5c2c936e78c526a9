"""The deliverables that rest on runs: model improvement on chosen runs with their loss curves,
error analysis on an analysed run, baselines on the baseline runs. Submitting asks for that
evidence; an approval freezes it (numbers, curves, the versions behind each run) and the page then
says when the runs have moved on."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import override_settings

from experiments import mlflow_store
from projects import services as project_services
from projects.models import DeliverableKind
from tests.experiments.analysis_helpers import analysed_run, animal_version
from tests.experiments.runs_helpers import TRACEABLE_TAGS, logged_run
from tests.experiments.test_baselines_panel import _human_baseline, _targets, baseline_run
from tests.experiments.test_registry import LOGIN, row, status_of
from tests.matrix import check_matrix, signed_in

pytestmark = pytest.mark.django_db

IMPROVEMENT = "/projects/digits/deliverables/model_improvement/"
ANALYSIS = "/projects/digits/deliverables/error_analysis/"


def _submit(deliverable, actor):
    project_services.deliverable_transition(deliverable=deliverable, actor=actor, action="submit")


def test_model_improvement_rests_on_chosen_runs_and_its_approval_freezes_their_numbers(
    client, project, lead, engineer, viewer, tmp_path
):
    deliverable = project.deliverables.get(kind=DeliverableKind.MODEL_IMPROVEMENT)
    project_services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="Dropout helped.")
    with pytest.raises(ValidationError, match="Choose at least one finished run"):
        _submit(deliverable, engineer)

    no_curve = logged_run(project, name="no curves")
    mlp = logged_run(project, name="mlp dropout 0.2", tags=TRACEABLE_TAGS, train=[2.0, 1.0, 0.5], val=[2.1, 1.2, 0.8])
    mlflow_store.client().log_metric(mlp.mlflow_run_id, "val_accuracy", 0.9412)

    client.force_login(engineer)
    page = client.get(IMPROVEMENT).content.decode()
    assert f'value="{mlp.mlflow_run_id}"' in page  # the run picker lists the project's runs
    client.post(f"{IMPROVEMENT}runs/", {"run": [no_curve.mlflow_run_id]})
    with pytest.raises(ValidationError, match="None of the chosen runs logged a loss curve"):
        _submit(deliverable, engineer)
    response = client.post(f"{IMPROVEMENT}runs/", {"run": [mlp.mlflow_run_id, no_curve.mlflow_run_id]})
    assert response.status_code == 302
    deliverable.refresh_from_db()
    assert deliverable.evidence_runs == [mlp.mlflow_run_id, no_curve.mlflow_run_id]
    page = client.get(IMPROVEMENT).content.decode()
    assert 'data-testid="improvement-run"' in page and "0.9412" in page
    assert 'id="improvement-loss-chart"' in page

    _submit(deliverable, engineer)
    # Approved with the production storage and no static files collected (as `make run` seeds the
    # demo before its server collects them): the evidence names no static file.
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "prakriya.static_storage.HashedCompressedStaticFilesStorage"}},
            STATIC_ROOT=tmp_path / "nothing-collected"):
        project_services.deliverable_transition(deliverable=deliverable, actor=lead, action="approve")
    snapshot = deliverable.snapshots.get()
    frozen_html = "".join(section["html"] for section in snapshot.sections)
    assert "0.9412" in frozen_html and 'data-plotly-for="improvement-loss-chart"' in frozen_html
    assert "<form" not in frozen_html  # no run picker in what was approved
    version = snapshot.versions[f"run mlp dropout 0.2 ({mlp.mlflow_run_id[:8]})"]
    assert "dataset version digits@v1" in version and "seed 7" in version and "code version 0.1.0+gabc" in version

    # The run is logged to after the approval: the approved page keeps 0.9412, says what changed.
    mlflow_store.client().log_metric(mlp.mlflow_run_id, "val_accuracy", 0.9633)
    client.force_login(viewer)
    page = client.get(IMPROVEMENT).content.decode()
    frozen_part = page[page.index('data-testid="frozen-evidence"'):]
    assert "0.9412" in frozen_part and "0.9633" not in frozen_part
    changes = page[page.index('data-testid="changed-since-approval"'):page.index('data-testid="frozen-evidence"')]
    assert "0.9412" in changes and "0.9633" in changes
    assert "/static/plotly/plotly.min" in page  # the frozen chart is drawn by the page's own scripts
    exported = client.get(f"{IMPROVEMENT}export/").content.decode()
    assert "0.9412" in exported and "0.9633" not in exported
    assert "Plotly" in exported and 'data-plotly-for="improvement-loss-chart"' in exported


def test_the_run_picker_is_for_authors_and_takes_only_the_projects_runs(
    client, project, private_project, engineer, annotator
):
    other = logged_run(private_project, name="someone else's")
    mine = [logged_run(project, name=f"run {i}") for i in range(2)]
    client.force_login(annotator)
    assert client.post(f"{ANALYSIS}runs/", {"run": [mine[0].mlflow_run_id]}).status_code == 403
    client.force_login(engineer)
    refused = client.post(f"{ANALYSIS}runs/", {"run": [other.mlflow_run_id]}, follow=True).content.decode()
    assert "Not a run of this project" in refused
    refused = client.post(f"{ANALYSIS}runs/", {"run": [r.mlflow_run_id for r in mine]}, follow=True).content.decode()
    assert "Choose at most 1 run." in refused
    assert project.deliverables.get(kind=DeliverableKind.ERROR_ANALYSIS).evidence_runs == []
    wrong_kind = client.post("/projects/digits/deliverables/baselines/runs/", {"run": [mine[0].mlflow_run_id]},
                             follow=True).content.decode()
    assert "not chosen runs" in wrong_kind


def test_error_analysis_needs_an_analysed_run(client, project, lead, engineer):
    deliverable = project.deliverables.get(kind=DeliverableKind.ERROR_ANALYSIS)
    project_services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="Owls confuse it.")
    with pytest.raises(ValidationError, match="Choose the analysed run"):
        _submit(deliverable, engineer)
    bare = logged_run(project, name="no predictions")
    client.force_login(engineer)
    client.post(f"{ANALYSIS}runs/", {"run": [bare.mlflow_run_id]})
    with pytest.raises(ValidationError, match="The chosen run has no analysis"):
        _submit(deliverable, engineer)

    version = animal_version(project)
    run = analysed_run(project, version, name="analysed", wrong={0, 5})
    client.post(f"{ANALYSIS}runs/", {"run": [run.mlflow_run_id]})
    page = client.get(ANALYSIS).content.decode()
    panel = page[page.index('data-testid="analysed-run"'):]
    assert "accuracy" in panel and "0.833333" in panel  # 10 of 12 right
    _submit(deliverable, engineer)
    project_services.deliverable_transition(deliverable=deliverable, actor=lead, action="approve")
    snapshot = deliverable.snapshots.get()
    assert "0.833333" in snapshot.text["Error analysis of the chosen run"]


def test_the_baselines_approval_shows_what_any_reader_sees_and_notices_a_new_baseline(
    client, project, lead, engineer, viewer
):
    _targets(project, lead)
    first, second = _human_baseline(project, lead)
    baseline_run(project, "logreg seed 7", trainer="logistic_regression", metrics={"val_accuracy": 0.93})
    deliverable = project.deliverables.get(kind=DeliverableKind.BASELINES)
    project_services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="Logistic regression wins.")
    _submit(deliverable, engineer)
    # The lead sees the annotators' names on the live panel; the frozen approval holds only what a
    # viewer of the project reads.
    client.force_login(lead)
    assert first.username in client.get("/projects/digits/deliverables/baselines/").content.decode()
    project_services.deliverable_transition(deliverable=deliverable, actor=lead, action="approve")
    snapshot = deliverable.snapshots.get()
    frozen_html = "".join(section["html"] for section in snapshot.sections)
    assert "logreg seed 7" in frozen_html and "0.9300" in frozen_html
    assert first.username not in frozen_html and second.username not in frozen_html
    assert any(what.startswith("run logreg seed 7") for what in snapshot.versions)

    baseline_run(project, "forest seed 3", trainer="random_forest", metrics={"val_accuracy": 0.95})
    client.force_login(viewer)
    page = client.get("/projects/digits/deliverables/baselines/").content.decode()
    changes = page[page.index('data-testid="changed-since-approval"'):page.index('data-testid="frozen-evidence"')]
    assert "forest seed 3" in changes
    assert "forest seed 3" not in page[page.index('data-testid="frozen-evidence"'):]


# --- Who may choose the runs --------------------------------------------------------------------
# (route, public project's answers, private project's answers)
MATRIX = [
    ("evidence runs POST", row(LOGIN, 403, 403, 403, 302, 302), row(404, 404, 403, 403, 302, 302)),
]


def test_choosing_the_runs_answers_each_role_as_the_table_says(users, project, private_project):
    for visibility, target in (("public", project), ("private", private_project)):
        run = logged_run(target, name="chosen")
        url = f"/projects/{target.slug}/deliverables/model_improvement/runs/"
        deliverable = target.deliverables.get(kind=DeliverableKind.MODEL_IMPROVEMENT)

        def send(role, url=url, run=run):
            return signed_in(users[role]).post(url, {"run": [run.mlflow_run_id]})

        def also(role, response, expected, deliverable=deliverable, run=run):
            deliverable.refresh_from_db()
            chosen = deliverable.evidence_runs == [run.mlflow_run_id]
            return None if chosen == (expected == 302) else f"evidence runs {deliverable.evidence_runs}"

        for route, public, private in MATRIX:
            check_matrix(route=route, visibility=visibility, expected=public if visibility == "public" else private,
                         send=send, status_of=status_of, also=also)


def test_the_api_chooses_the_runs_and_reads_every_approval(project, lead, engineer, annotator):
    from rest_framework.test import APIClient

    run = logged_run(project, name="api mlp", tags=TRACEABLE_TAGS, train=[1.0, 0.4], val=[1.1, 0.6])
    mlflow_store.client().log_metric(run.mlflow_run_id, "val_accuracy", 0.8765)
    api = APIClient()
    url = "/api/projects/digits/deliverables/model_improvement/"
    api.force_authenticate(annotator)
    assert api.put(f"{url}runs/", {"runs": [run.mlflow_run_id]}, format="json").status_code == 403
    api.force_authenticate(engineer)
    refused = api.put(f"{url}runs/", {"runs": ["f" * 32]}, format="json")
    assert refused.status_code == 400 and "Not a run of this project" in refused.content.decode()
    assert api.put(f"{url}runs/", {"runs": "not a list"}, format="json").status_code == 400
    chosen = api.put(f"{url}runs/", {"runs": [run.mlflow_run_id]}, format="json")
    assert chosen.status_code == 200 and chosen.json() == {"runs": [run.mlflow_run_id]}
    assert api.patch(url, {"body": "Smaller learning rate."}, format="json").json()["evidence_runs"] == [run.mlflow_run_id]
    assert api.post(f"{url}submit/", {}, format="json").status_code == 200
    api.force_authenticate(lead)
    approved = api.post(f"{url}approve/", {}, format="json").json()
    assert [a["number"] for a in approved["approvals"]] == [1] and approved["approvals"][0]["approved_by"] == "lead"

    api.force_authenticate(None)
    approval = api.get(f"{url}approvals/1/").json()
    assert approval["content_hash"] == approved["approvals"][0]["content_hash"]
    assert approval["body"] == "Smaller learning rate."
    assert "0.8765" in approval["text"]["Experiments behind the choices"]
    assert any("0.8765" in section["html"] for section in approval["sections"])
    assert "seed 7" in approval["versions"][f"run api mlp ({run.mlflow_run_id[:8]})"]
    assert api.get(f"{url}approvals/2/").status_code == 404
