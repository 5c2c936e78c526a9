"""Overfit one batch as a job: a real worker trains a network on one batch of a dataset version,
logs its loss per step as the run's curve and tags the run passed or failed; the runs pages show
the verdict. Bad requests are refused before anything is queued."""

from __future__ import annotations

import functools

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from datasets import services as dataset_services
from experiments import kinds, mlflow_store
from experiments.jobs import TAG_OVERFIT, TAG_OVERFIT_FINAL_LOSS, TAG_OVERFIT_THRESHOLD
from experiments.launch import overfit_start
from experiments.models import Run
from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from tests.experiments.runs_helpers import split_version
from tests.experiments.test_inputs import _sklearn_version
from tests.experiments.test_registry import LOGIN, row, status_of
from tests.fixtures_worker import wait_for
from tests.matrix import check_matrix, check_routes, signed_in

JOB_TIMEOUT_S = 180
# A small network with a brisk learning rate fits a batch of iris in a few dozen steps.
FITS = {"hidden_sizes": [32], "lr": 0.01, "seed": 0}


@pytest.fixture
def iris(project, lead):
    """A tiny real version (150 rows, one file in DVC): quick to write and to train on."""
    version = _sklearn_version(project, lead, "iris", "tabular")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    return version


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_mlp_passes_on_separable_data_and_fails_with_a_tiny_step_budget(
    iris, project, engineer, viewer, client, start_worker
):
    worker = start_worker()
    passing = overfit_start(version=iris, actor=engineer, trainer="mlp", config=FITS, batch_size=32,
                            loss_threshold=0.01, max_steps=500, name="fits")
    failing = overfit_start(version=iris, actor=engineer, trainer="mlp", config=FITS, batch_size=32,
                            loss_threshold=0.01, max_steps=3, name="too few steps")
    assert passing.queue == "training"

    def ended():
        return all(Job.objects.get(pk=j.pk).state in TERMINAL_STATES for j in (passing, failing))

    wait_for(ended, timeout=JOB_TIMEOUT_S, what="both overfit jobs to end", workers=[worker])
    store = mlflow_store.client()
    verdicts = {}
    for job in (passing, failing):
        job.refresh_from_db()
        assert job.state == JobState.SUCCEEDED, (job.message, job.log)
        run = store.get_run(job.result["run_id"])
        tags = run.data.tags
        assert run.info.status == "FINISHED"
        assert tags[mlflow_store.TAG_STAGE] == "overfit-one-batch"
        assert tags[mlflow_store.TAG_DATASET_VERSION] == "iris@v1"
        assert float(tags[TAG_OVERFIT_THRESHOLD]) == 0.01
        history = store.get_metric_history(run.info.run_id, "train_loss")
        assert sorted(m.step for m in history) == list(range(job.result["steps"]))
        assert float(tags[TAG_OVERFIT_FINAL_LOSS]) == pytest.approx(max(history, key=lambda m: m.step).value)
        files = {f.path for f in mlflow_store.list_artifacts(run_id=run.info.run_id, path="model")}
        assert files == {"model/model.pt"}
        assert Run.objects.get(mlflow_run_id=run.info.run_id).job_id == job.pk
        verdicts[job.params["name"]] = (tags[TAG_OVERFIT], float(tags[TAG_OVERFIT_FINAL_LOSS]), len(history))
    assert verdicts["fits"][0] == "passed" and verdicts["fits"][1] < 0.01 and verdicts["fits"][2] < 500
    assert verdicts["too few steps"][0] == "failed" and verdicts["too few steps"][1] > 0.01
    assert verdicts["too few steps"][2] == 3

    client.force_login(viewer)
    listing = client.get(reverse("experiments:runs", args=[project.slug])).content.decode()
    assert "Overfit one batch: passed" in listing and "Overfit one batch: failed" in listing
    page = client.get(reverse("experiments:run", args=[project.slug, passing.result["run_id"]])).content.decode()
    assert 'data-testid="overfit-verdict"' in page and "Passed" in page and "loss-chart" in page
    api = signed_in(viewer, api=True)
    detail = api.get(reverse("api:run-detail", kwargs={"project_slug": project.slug,
                                                      "run_id": failing.result["run_id"]})).json()
    assert detail["tags"][TAG_OVERFIT] == "failed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trainer", "options", "message"),
    [
        ("logistic_regression", {}, "one-shot baseline: overfit-one-batch needs a network"),
        ("mlp", {"loss_threshold": 0}, "loss threshold must be a number above 0"),
        ("mlp", {"max_steps": 0}, "step budget is between 1 and"),
        ("mlp", {"config": {"learning_rate": 1}}, "unknown setting"),
        ("cnn", {}, "does not train on tabular data"),
    ],
)
def test_what_cannot_be_checked_is_refused_before_a_job_is_queued(trainer, options, message, project, engineer):
    version = split_version(project, slug="iris", kind="tabular")
    with pytest.raises(ValidationError, match=message):
        overfit_start(version=version, actor=engineer, trainer=trainer, **options)
    assert not Job.objects.filter(kind=kinds.OVERFIT).exists()


@pytest.mark.django_db
def test_the_form_and_the_api_answer_bad_requests_with_their_reasons(client, project, engineer):
    version = split_version(project, slug="iris", kind="tabular")
    client.force_login(engineer)
    url = reverse("experiments:overfit", args=[project.slug])
    page = client.post(url, {"overfit-version": version.pk, "overfit-trainer": "mlp",
                             "overfit-loss_threshold": "0.01", "overfit-max_steps": "0"})
    assert page.status_code == 400 and "greater than or equal to 1" in page.content.decode()
    page = client.post(url, {"overfit-version": version.pk, "overfit-trainer": "mlp", "overfit-loss_threshold": "0.01",
                             "overfit-max_steps": "10", "overfit-settings": '{"lr": -1}'})
    assert page.status_code == 400 and "lr must be" in page.content.decode()
    assert "Overfit one batch" in page.content.decode()

    api = signed_in(engineer, api=True)
    body = {"dataset": version.dataset.slug, "version": version.number, "trainer": "random_forest"}
    response = api.post(reverse("api:run-overfit", kwargs={"project_slug": project.slug}), body, format="json")
    assert response.status_code == 400 and "one-shot baseline" in str(response.json())
    good = api.post(reverse("api:run-overfit", kwargs={"project_slug": project.slug}),
                    {**body, "trainer": "mlp", "max_steps": 20}, format="json")
    assert good.status_code == 201 and good.json()["kind"] == kinds.OVERFIT
    job = Job.objects.get(kind=kinds.OVERFIT)
    assert job.params["max_steps"] == 20 and job.params["loss_threshold"] == 0.01


@pytest.mark.django_db
def test_the_runs_page_offers_the_check_to_those_who_launch(client, project, engineer, viewer):
    split_version(project, slug="iris", kind="tabular")
    client.force_login(engineer)
    page = client.get(reverse("experiments:runs", args=[project.slug]), {"launch": "overfit"}).content.decode()
    assert "Start the check" in page and 'name="overfit-max_steps"' in page
    client.force_login(viewer)
    page = client.get(reverse("experiments:runs", args=[project.slug]), {"launch": "overfit"}).content.decode()
    assert "Start the check" not in page


MATRIX = [
    ("overfit POST", False, row(LOGIN, 403, 403, 403, 302, 302), row(404, 404, 403, 403, 302, 302)),
    ("api overfit POST", True, row(401, 403, 403, 403, 201, 201), row(401, 404, 403, 403, 201, 201)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_overfit_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    version = split_version(target, slug="iris", kind="tabular")
    check_routes({
        route: functools.partial(
            _check_route, route=route, api=api, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, slug=target.slug, version=version,
        )
        for route, api, public, private in MATRIX
    })


def _check_route(*, route, api, expected, visibility, users, slug, version):
    if api:
        url = reverse("api:run-overfit", kwargs={"project_slug": slug})
        data = {"dataset": version.dataset.slug, "version": version.number, "trainer": "mlp"}
    else:
        url = reverse("experiments:overfit", args=[slug])
        data = {"overfit-version": version.pk, "overfit-trainer": "mlp", "overfit-loss_threshold": "0.01",
                "overfit-max_steps": "50"}

    def send(role):
        return signed_in(users[role], api=api).post(url, data, **({"format": "json"} if api else {}))

    def also(role, response, expected):
        queued = Job.objects.filter(kind=kinds.OVERFIT).count()
        return None if queued == (1 if expected in (201, 302) else 0) else f"{queued} overfit jobs queued"

    check_matrix(route=route, visibility=visibility, expected=expected, send=send, status_of=status_of, also=also)
