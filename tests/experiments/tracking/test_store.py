"""The platform's side of MLflow: a project's experiment, the record of its runs, who sees them,
and artifacts moved by platform code."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from experiments import mlflow_store, selectors, services
from experiments.models import ProjectExperiment, RunSource
from tests.experiments.tracking_helpers import tracked_run
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db


def test_each_test_gets_its_own_migrated_store_under_its_data_folder(settings):
    assert settings.PRAKRIYA_MLFLOW_BACKEND_URI == f"sqlite:///{settings.DATA_DIR / 'mlflow' / 'mlflow.db'}"
    assert (settings.DATA_DIR / "mlflow" / "mlflow.db").exists()
    # Only MLflow's own "Default" experiment: nothing left over from another test.
    assert [e.name for e in mlflow_store.client().search_experiments()] == ["Default"]


def test_experiment_ensure_creates_the_projects_experiment_once(project):
    first = services.experiment_ensure(project=project)
    second = services.experiment_ensure(project=project)
    assert first == second
    experiment = mlflow_store.client().get_experiment(first.experiment_id)
    assert experiment.name == project.slug == first.name
    assert experiment.tags == {
        mlflow_store.TAG_PROJECT: project.slug,
        mlflow_store.TAG_PROJECT_ID: str(project.pk),
    }
    # Artifacts are served through the platform: clients resolve this against their tracking URI.
    assert experiment.artifact_location == f"mlflow-artifacts:/{first.experiment_id}"


def test_experiment_ensure_adopts_its_own_experiment_and_moves_a_stranger_aside(project, lead):
    store = mlflow_store.tracking_store()
    # The platform's record was lost (e.g. restored from an older backup): the tagged experiment is found again.
    services.experiment_ensure(project=project)
    experiment_id = ProjectExperiment.objects.get(project=project).experiment_id
    ProjectExperiment.objects.all().delete()
    assert services.experiment_ensure(project=project).experiment_id == experiment_id

    # An experiment someone made by hand with another project's slug never becomes that project's.
    other = make_project(lead=lead, slug="invoices")
    stranger_id = store.create_experiment("invoices")
    record = services.experiment_ensure(project=other)
    assert record.experiment_id != stranger_id
    assert store.get_experiment(stranger_id).name == f"invoices.orphaned-{stranger_id}"


def test_experiment_ensure_restores_a_deleted_experiment(project):
    record = services.experiment_ensure(project=project)
    mlflow_store.tracking_store().delete_experiment(record.experiment_id)
    ProjectExperiment.objects.all().delete()
    again = services.experiment_ensure(project=project)
    assert again.experiment_id == record.experiment_id
    assert mlflow_store.tracking_store().get_experiment(record.experiment_id).lifecycle_stage == "active"


def test_run_record_is_idempotent_and_keeps_runs_in_their_project(project, private_project, lead):
    run_id = tracked_run(project, lead)
    again = services.run_record(project=project, mlflow_run_id=run_id, source=RunSource.PLATFORM)
    assert again.source == RunSource.EXTERNAL  # the first record stands
    with pytest.raises(ValidationError):
        services.run_record(project=private_project, mlflow_run_id=run_id, source=RunSource.EXTERNAL)
    parent = selectors.run_for_mlflow_id(mlflow_run_id=run_id)
    with pytest.raises(ValidationError):
        services.run_record(
            project=private_project, mlflow_run_id="f" * 32, source=RunSource.EXTERNAL, parent=parent
        )


def test_runs_for_project_follows_the_projects_visibility_and_roles(users, project, private_project, lead):
    public_run = tracked_run(project, lead)
    private_run = tracked_run(private_project, lead)
    admin = UserFactory(username="admin", is_superuser=True)

    def seen(user, proj):
        return [r.mlflow_run_id for r in selectors.runs_for_project(user=user, project=proj)]

    for user in [AnonymousUser(), *users.values()]:
        assert seen(user or AnonymousUser(), project) == [public_run]
    for role in ("viewer", "engineer", "lead"):
        assert seen(users[role], private_project) == [private_run]
    for user in (AnonymousUser(), users["outsider"], users["annotator"]):
        assert seen(user, private_project) == []
    assert seen(admin, private_project) == [private_run]


def test_platform_code_logs_and_reads_artifacts_through_the_store(project, lead, tmp_path, settings):
    run_id = tracked_run(project, lead, source=RunSource.PLATFORM)
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"\x00weights")
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "loss.json").write_text("[1, 0.5]")

    mlflow_store.log_artifact(run_id=run_id, local_path=checkpoint, artifact_path="checkpoints")
    mlflow_store.log_artifact(run_id=run_id, local_path=folder, artifact_path="plots")

    assert sorted(f.path for f in mlflow_store.list_artifacts(run_id=run_id)) == ["checkpoints", "plots"]
    local = mlflow_store.download_artifact(
        run_id=run_id, path="checkpoints/checkpoint.pt", dst_path=tmp_path / "dl"
    )
    assert Path(local).read_bytes() == b"\x00weights"
    experiment_id = project.mlflow_experiment.experiment_id
    stored = (
        Path(settings.PRAKRIYA_MLFLOW_ARTIFACTS_DIR)
        / experiment_id
        / run_id
        / "artifacts"
        / "plots"
        / "loss.json"
    )
    assert stored.read_text() == "[1, 0.5]"


def test_proxied_artifact_locations_cannot_escape_the_artifacts_folder():
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        mlflow_store.artifact_repository("mlflow-artifacts:/1/../../etc")
