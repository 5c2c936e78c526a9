"""Every job parameter a person sets has a bound, checked where the job is launched: the API answers
400 naming the setting and its bound, the pages a form error, and a value within the bound is
still accepted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from experiments.launch import overfit_start, training_start
from experiments.training.limits import MAX_PARAMETERS, UPPER_BOUNDS, check_launch_bounds
from experiments.training.registry import make_config
from prakriya.jobs.models import Job
from tests.experiments.runs_helpers import split_version
from tests.matrix import signed_in

pytestmark = pytest.mark.django_db

# trainer, setting, a value over its bound, the message's text, a value within it.
TRAINING_BOUNDS = [
    ("mlp", "epochs", 1_000_000_000, "epochs must be at most 1,000", 1000),
    ("mlp", "batch_size", 65_537, "batch_size must be at most 65,536", 65_536),
    ("mlp", "eval_batch_size", 10**6, "eval_batch_size must be at most 65,536", 2048),
    ("mlp", "lr", 11.0, "lr must be at most 10", 10.0),
    ("mlp", "weight_decay", 2.0, "weight_decay must be at most 1", 0.5),
    ("mlp", "seed", 2**31, "seed must be at most 2,147,483,647", 2**31 - 1),
    ("mlp", "max_steps", 10**8, "max_steps must be at most 10,000,000", 10**6),
    ("mlp", "log_every_steps", 10**8, "log_every_steps must be at most 10,000,000", 100),
    ("mlp", "num_threads", 64, "num_threads must be at most 8", 8),
    ("mlp", "hidden_sizes", [5000], "hidden_sizes[0] must be at most 4,096", [4096]),
    ("mlp", "hidden_sizes", [8] * 9, "hidden_sizes must list at most 8 layers", [8] * 8),
    ("mlp", "hidden_sizes", [4096, 4096], "weights between hidden layers; at most 16,000,000", [4096, 1024]),
    ("cnn", "channels", [16, 1024], "channels[1] must be at most 512", [16, 512]),
    ("cnn", "hidden", 5000, "hidden must be at most 4,096", 4096),
    ("embedding_bag", "embedding_dim", 2048, "embedding_dim must be at most 1,024", 256),
    ("embedding_bag", "max_vocab", 300_000, "max_vocab must be at most 200,000", 50_000),
    ("embedding_bag", "min_freq", 2_000_000, "min_freq must be at most 1,000,000", 5),
    ("logistic_regression", "max_iter", 10**6, "max_iter must be at most 100,000", 100_000),
    ("logistic_regression", "C", 1e7, "C must be at most 1,000,000", 1e6),
    ("random_forest", "n_estimators", 5000, "n_estimators must be at most 1,000", 1000),
    ("random_forest", "max_depth", 1000, "max_depth must be at most 200", 200),
    ("random_forest", "min_samples_leaf", 2_000_000, "min_samples_leaf must be at most 1,000,000", 10),
    ("tfidf_logreg", "ngram_max", 9, "ngram_max must be at most 5", 5),
    ("tfidf_logreg", "min_df", 2_000_000, "min_df must be at most 1,000,000", 2),
    ("tfidf_logreg", "max_features", 5_000_000, "max_features must be at most 1,000,000", 1_000_000),
]
KIND = {"mlp": "tabular", "cnn": "image", "embedding_bag": "text", "logistic_regression": "tabular",
        "random_forest": "tabular", "tfidf_logreg": "text"}


def _runs(project) -> str:
    return reverse("api:run-list", kwargs={"project_slug": project.slug})


@pytest.mark.parametrize(("trainer", "setting", "over", "message", "within"), TRAINING_BOUNDS)
def test_each_training_setting_over_its_bound_is_a_400_naming_it_and_within_is_queued(
    project, engineer, trainer, setting, over, message, within
):
    split_version(project, slug="data", kind=KIND[trainer])
    api = signed_in(engineer, api=True)
    launch = {"dataset": "data", "version": 1, "trainer": trainer}

    refused = api.post(_runs(project), {**launch, "config": {setting: over}}, format="json")

    assert refused.status_code == 400, refused.json()
    assert message in " ".join(refused.json()["errors"]["non_field_errors"])
    assert not Job.objects.exists()

    accepted = api.post(_runs(project), {**launch, "config": {setting: within}}, format="json")
    assert accepted.status_code == 201, accepted.json()
    assert Job.objects.get().params["config"][setting] == within


def test_every_bounded_setting_is_tested():
    tested = {setting for _, setting, *_ in TRAINING_BOUNDS}
    assert set(UPPER_BOUNDS) | {"epochs"} <= tested


def test_the_epoch_bound_is_the_operators_setting(settings, project, engineer):
    settings.PRAKRIYA_TRAINING_MAX_EPOCHS = 5
    version = split_version(project, slug="data", kind="tabular")
    with pytest.raises(Exception, match="epochs must be at most 5 "):
        training_start(version=version, actor=engineer, trainer="mlp", config={"epochs": 6})
    assert training_start(version=version, actor=engineer, trainer="mlp", config={"epochs": 5})


def test_an_embedding_table_too_large_is_refused():
    config = make_config("embedding_bag", {"max_vocab": 200_000, "embedding_dim": 1024})
    with pytest.raises(ValueError, match=f"embedding weights; at most {MAX_PARAMETERS:,}"):
        check_launch_bounds(config)


def test_a_recorded_config_beyond_todays_bounds_still_reads_back():
    # Bounds hold launches, not the configs of runs recorded before them (checkpoints, evaluations).
    assert make_config("mlp", {"epochs": 50_000, "hidden_sizes": [100_000]}).epochs == 50_000


def test_the_training_form_refuses_too_many_epochs_with_a_form_error(project, engineer):
    version = split_version(project, slug="data", kind="tabular")
    client = signed_in(engineer)
    url = reverse("experiments:runs", args=[project.slug])

    page = client.post(url, {"version": version.pk, "trainer": "mlp", "epochs": "1000000000"})

    assert page.status_code == 400
    assert "less than or equal to 1000" in page.content.decode()
    page = client.post(url, {"version": version.pk, "trainer": "mlp", "settings": '{"num_threads": 64}'})
    assert page.status_code == 400 and "num_threads must be at most 8" in page.content.decode()
    assert not Job.objects.exists()
    assert client.post(url, {"version": version.pk, "trainer": "mlp", "epochs": "1000"}).status_code == 302


@pytest.mark.parametrize(
    ("field", "over", "within", "message"),
    [
        ("batch_size", 4097, 4096, "less than or equal to 4096"),
        ("max_steps", 10_001, 10_000, "less than or equal to 10000"),
        ("loss_threshold", 101.0, 100.0, "less than or equal to 100"),
    ],
)
def test_overfit_bounds_answer_400_on_the_field_and_the_service_holds_the_same(
    project, engineer, field, over, within, message
):
    version = split_version(project, slug="data", kind="tabular")
    api = signed_in(engineer, api=True)
    url = reverse("api:run-overfit", kwargs={"project_slug": project.slug})
    launch = {"dataset": "data", "version": 1, "trainer": "mlp"}

    refused = api.post(url, {**launch, field: over}, format="json")

    assert refused.status_code == 400 and message in refused.json()["errors"][field][0]
    with pytest.raises(Exception, match=field):
        overfit_start(version=version, actor=engineer, trainer="mlp", **{field: over})
    assert api.post(url, {**launch, field: within}, format="json").status_code == 201


def test_a_grid_larger_than_the_caps_allow_is_a_400_and_one_that_does_not_fit_now_a_429(
    settings, project, engineer
):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER = 4
    split_version(project, slug="data", kind="tabular")
    api = signed_in(engineer, api=True)
    url = reverse("api:run-sweeps", kwargs={"project_slug": project.slug})
    launch = {"dataset": "data", "version": 1, "trainer": "majority"}

    too_big = api.post(url, {**launch, "grid": {"seed": [1, 2, 3, 4, 5]}}, format="json")
    assert too_big.status_code == 400
    assert "a grid search here runs at most 4 combinations" in too_big.json()["errors"]["grid"][0]

    grid_limit = api.post(url, {**launch, "grid": {"seed": list(range(65))}}, format="json")
    assert grid_limit.status_code == 400 and "a sweep runs at most 64" in str(grid_limit.json())

    assert api.post(_runs(project), {**launch, "config": {"seed": 9}}, format="json").status_code == 201
    not_now = api.post(url, {**launch, "grid": {"seed": [1, 2, 3, 4]}}, format="json")
    assert not_now.status_code == 429
    assert "You have 1 jobs queued or running and this would add 4" in not_now.json()["detail"]
    assert Job.objects.count() == 1
