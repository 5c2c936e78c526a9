"""Grid search: a grid is checked against the trainer's settings before anything is queued; a
sweep is a parent run with one child run per combination, trained by real workers in parallel;
the parent closes when its last child ends; the sweep page compares the children."""

from __future__ import annotations

import functools
import json

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.urls import reverse

from experiments import mlflow_store, sweeps
from experiments import services as experiment_services
from experiments.jobs import sweep_close_if_done
from experiments.launch import sweep_start
from experiments.models import Run, RunSource
from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from prakriya.jobs.runner import job_execute
from prakriya.jobs.services import job_cancel
from tests.experiments.runs_helpers import logged_run, split_version
from tests.experiments.test_overfit_job import iris  # noqa: F401 - the fixture
from tests.experiments.test_registry import LOGIN, close_mlflow_connections, row, status_of
from tests.fixtures_worker import wait_for
from tests.matrix import check_matrix, check_routes, signed_in

SWEEP_TIMEOUT_S = 240
GRID = {"lr": [0.01, 0.05], "epochs": [1, 2]}
FIXED = {"hidden_sizes": [16], "seed": 1, "batch_size": 16}


# --- Grids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ([0.1, 0.2], "JSON object of lists"),
        ({}, "JSON object of lists"),
        ({"lr": 0.1}, "non-empty list"),
        ({"lr": []}, "non-empty list"),
        ({"lr": [0.1, 0.1]}, "appears twice"),
        ({"lr": [{"a": 1}]}, "number, a string or a list"),
        ({f"p{i}": [1, 2] for i in range(7)}, "128 combinations; a sweep runs at most 64"),
    ],
)
def test_malformed_grids_are_refused_with_a_reason(grid, message):
    with pytest.raises(sweeps.GridError, match=message):
        sweeps.grid_parse(grid)


def test_a_grid_expands_to_every_combination_first_setting_slowest():
    grid = sweeps.grid_parse({"lr": [0.1, 0.2], "hidden_sizes": [[8], [16, 8]]})
    assert sweeps.combinations(grid) == [
        {"lr": 0.1, "hidden_sizes": [8]}, {"lr": 0.1, "hidden_sizes": [16, 8]},
        {"lr": 0.2, "hidden_sizes": [8]}, {"lr": 0.2, "hidden_sizes": [16, 8]},
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("grid", "config", "message"),
    [
        ({"learning_rate": [0.1, 0.2]}, {}, "learning_rate=0.1: unknown setting"),
        ({"lr": [0.1, -1.0]}, {}, "lr=-1.0: lr must be"),
        ({"lr": [0.1]}, {"lr": 0.2}, "lr: set in the grid or in the fixed settings, not both"),
        ({"a": list(range(9)), "b": list(range(8))}, {}, "72 combinations"),
    ],
)
def test_a_grid_the_trainer_cannot_run_queues_nothing(grid, config, message, project, engineer):
    version = split_version(project)
    with pytest.raises(ValidationError, match=message):
        sweep_start(version=version, actor=engineer, trainer="mlp", grid=grid, config=config)
    assert not Job.objects.exists() and not Run.objects.exists()


@pytest.mark.django_db
def test_bad_grids_are_form_errors_and_api_400s(client, project, engineer):
    version = split_version(project)
    client.force_login(engineer)
    page = client.post(reverse("experiments:sweeps", args=[project.slug]), {
        "sweep-version": version.pk, "sweep-trainer": "mlp", "sweep-grid": '{"lr": [0.1, 0.1]}',
    })
    assert page.status_code == 400 and "appears twice" in page.content.decode()
    page = client.post(reverse("experiments:sweeps", args=[project.slug]), {
        "sweep-version": version.pk, "sweep-trainer": "mlp", "sweep-grid": '{"learning_rate": [0.1, 0.9]}',
    })
    assert page.status_code == 400 and "learning_rate=0.1: unknown setting" in page.content.decode()
    page = client.post(reverse("experiments:sweeps", args=[project.slug]), {
        "sweep-version": version.pk, "sweep-trainer": "mlp", "sweep-grid": "lr: 0.1",
    })
    assert page.status_code == 400 and "not valid JSON" in page.content.decode()

    api = signed_in(engineer, api=True)
    url = reverse("api:run-sweeps", kwargs={"project_slug": project.slug})
    body = {"dataset": version.dataset.slug, "version": version.number, "trainer": "mlp"}
    response = api.post(url, {**body, "grid": {"lr": "fast"}}, format="json")
    assert response.status_code == 400 and "non-empty list" in json.dumps(response.json())
    response = api.post(url, {**body, "grid": {"lr": [0.1]}, "config": {"lr": 0.2}}, format="json")
    assert response.status_code == 400 and "not both" in json.dumps(response.json())
    assert not Job.objects.exists()


# --- A sweep through real workers ----------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_2x2_sweep_trains_four_children_in_parallel_and_closes_its_parent(
    iris, project, engineer, viewer, client, start_worker  # noqa: F811 - the imported fixture
):
    workers = [start_worker(), start_worker()]
    started = sweep_start(version=iris, actor=engineer, trainer="mlp", grid=GRID, config=FIXED,
                          name="lr × epochs", stage="overfit-all")
    parent_id = started.parent.mlflow_run_id
    assert len(started.jobs) == 4 and {j.queue for j in started.jobs} == {"training"}

    store = mlflow_store.client()
    wait_for(lambda: store.get_run(parent_id).info.status == "FINISHED", timeout=SWEEP_TIMEOUT_S,
             what="the sweep's parent run to close", workers=workers, interval=0.5)
    wait_for(lambda: all(j.state in TERMINAL_STATES for j in sweeps.child_jobs(parent_run_id=parent_id)),
             timeout=30, what="the child jobs to be marked ended", workers=workers)

    parent = store.get_run(parent_id)
    assert parent.data.tags[mlflow_store.TAG_KIND] == "sweep"
    assert json.loads(parent.data.params["grid"]) == GRID
    children = Run.objects.filter(parent=started.parent)
    assert children.count() == 4
    combinations = []
    for child in children:
        run = store.get_run(child.mlflow_run_id)
        assert run.info.status == "FINISHED", (child.job.message, child.job.log, [w.describe() for w in workers])
        assert run.data.tags[mlflow_store.TAG_MLFLOW_PARENT_RUN] == parent_id
        assert run.data.tags[mlflow_store.TAG_STAGE] == "overfit-all"
        combinations.append({"lr": float(run.data.params["lr"]), "epochs": int(run.data.params["epochs"])})
        assert run.data.params["hidden_sizes"] in ("[16]", "(16,)")
    assert sorted(combinations, key=json.dumps) == sorted(sweeps.combinations(GRID), key=json.dumps)
    assert all(j.state == JobState.SUCCEEDED for j in sweeps.child_jobs(parent_run_id=parent_id))
    # Both workers took children: the training queue spreads a sweep.
    assert all(w.task_ids("succeeded") for w in workers), [w.describe() for w in workers]
    # Closing again is a no-op.
    assert sweep_close_if_done(parent_run_id=parent_id, current_job_id=0) is False

    client.force_login(viewer)
    page = client.get(reverse("experiments:sweep", args=[project.slug, parent_id]))
    html = page.content.decode()
    assert page.status_code == 200 and "4 of 4 jobs ended" in html
    assert html.count('data-state="finished"') == 4 and html.count('data-best="true"') == 1
    assert '"type":"parcoords"' in html and "val_accuracy" in html
    best = max(
        (store.get_run(c.mlflow_run_id) for c in children), key=lambda r: r.data.metrics["val_accuracy"]
    )
    assert html.index('data-best="true"') < html.index(f"/runs/{best.info.run_id}/")

    api = signed_in(viewer, api=True)
    body = api.get(reverse("api:run-sweep", kwargs={"project_slug": project.slug, "run_id": parent_id})).json()
    assert body["total"] == body["done"] == 4 and body["metric"] == "val_accuracy"
    values = [c["value"] for c in body["children"]]
    assert values == sorted(values, reverse=True) and body["children"][0]["best"] is True
    assert body["children"][0]["run_id"] == best.info.run_id

    ascending = client.get(reverse("experiments:sweep", args=[project.slug, parent_id]), {"sort": "lr", "dir": "asc"})
    cells = [line for line in ascending.content.decode().splitlines() if "<td><code>" in line]
    assert [json.loads(c.split("<code>")[1].split("</code>")[0]) for c in cells] == [0.01, 0.01, 0.05, 0.05]


@pytest.mark.django_db
def test_a_run_that_is_not_a_sweep_has_no_sweep_page(client, project, viewer):
    run = logged_run(project, name="plain", train=[1.0])
    client.force_login(viewer)
    assert client.get(reverse("experiments:sweep", args=[project.slug, run.mlflow_run_id])).status_code == 404


# --- Who may do what -----------------------------------------------------------------------------


READ = (row(200, 200, 200, 200, 200, 200), row(404, 404, 200, 403, 200, 200))
# (route, api, method, expected on the public project, on the private one)
MATRIX = [
    ("sweep GET", False, "GET", *READ),
    ("sweeps POST", False, "POST", row(LOGIN, 403, 403, 403, 302, 302), row(404, 404, 403, 403, 302, 302)),
    ("api sweep GET", True, "GET", *READ),
    ("api sweeps POST", True, "POST", row(401, 403, 403, 403, 201, 201), row(401, 404, 403, 403, 201, 201)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_sweep_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project, lead):
    # One world for every route: each role's request is rolled back (the data folder, MLflow's
    # store included, put back as built), so each route sees it as built.
    target = project if visibility == "public" else private_project
    version = split_version(target)
    parent = sweep_start(version=version, actor=lead, trainer="majority", grid={"seed": [1, 2]}).parent
    check_routes({
        route: functools.partial(
            _check_route, route=route, api=api, method=method,
            expected=public if visibility == "public" else private, visibility=visibility, users=users,
            slug=target.slug, version=version, parent=parent,
        )
        for route, api, method, public, private in MATRIX
    })


def _check_route(*, route, api, method, expected, visibility, users, slug, version, parent):
    if api:
        url = (reverse("api:run-sweep", kwargs={"project_slug": slug, "run_id": parent.mlflow_run_id})
               if method == "GET" else reverse("api:run-sweeps", kwargs={"project_slug": slug}))
        data = {"dataset": version.dataset.slug, "version": version.number, "trainer": "majority",
                "grid": {"seed": [3, 4]}}
    else:
        url = (reverse("experiments:sweep", args=[slug, parent.mlflow_run_id]) if method == "GET"
               else reverse("experiments:sweeps", args=[slug]))
        data = {"sweep-version": version.pk, "sweep-trainer": "majority", "sweep-grid": '{"seed": [3, 4]}'}

    def send(role):
        client = signed_in(users[role], api=api)
        if method == "GET":
            return client.get(url)
        response = client.post(url, data, **({"format": "json"} if api else {}))
        close_mlflow_connections()
        return response

    def also(role, response, expected):
        if method == "POST" and expected in (201, 302):
            queued = Job.objects.filter(params__parent_run_id__isnull=False).exclude(
                params__parent_run_id=parent.mlflow_run_id).count()
            return None if queued == 2 else f"{queued} child jobs queued"
        return None

    check_matrix(route=route, visibility=visibility, expected=expected, send=send, status_of=status_of, also=also)


@pytest.mark.django_db(transaction=True)
def test_a_sweep_closes_when_its_last_children_are_cancelled_or_given_up(iris, project, engineer):  # noqa: F811
    """Children that never finish their work — one cancelled while queued, one given up after
    its workers died mid-run — still let the parent close, and the run the dead one left RUNNING
    is closed as failed instead of running for ever."""
    started = sweep_start(version=iris, actor=engineer, trainer="mlp", grid={"lr": [0.01, 0.05, 0.1]},
                          config={**FIXED, "epochs": 1}, name="three rates")
    parent_id = started.parent.mlflow_run_id
    trained, cancelled, lost = started.jobs
    store = mlflow_store.client()

    assert job_execute(trained.pk) == JobState.SUCCEEDED
    assert store.get_run(parent_id).info.status == "RUNNING"

    job_cancel(job=cancelled)
    assert Job.objects.get(pk=cancelled.pk).state == JobState.CANCELLED
    assert store.get_run(parent_id).info.status == "RUNNING", "one child has not ended yet"

    # What an attempt whose worker was killed leaves behind: its run RUNNING, the job waiting
    # for another worker, and no attempt left.
    experiment = experiment_services.experiment_ensure(project=project)
    orphan = store.create_run(experiment.experiment_id, run_name="killed attempt", tags={
        mlflow_store.TAG_JOB: str(lost.pk), mlflow_store.TAG_MLFLOW_PARENT_RUN: parent_id,
    }).info.run_id
    experiment_services.run_record(project=project, mlflow_run_id=orphan, source=RunSource.PLATFORM,
                                   name="killed attempt", job=lost, parent=started.parent)
    Job.objects.filter(pk=lost.pk).update(state=JobState.INTERRUPTED, attempts=F("max_attempts"))
    assert job_execute(lost.pk) is None  # the worker gives up on it
    assert Job.objects.get(pk=lost.pk).state == JobState.DEAD

    assert store.get_run(orphan).info.status == "FAILED"
    assert store.get_run(parent_id).info.status == "FINISHED"
