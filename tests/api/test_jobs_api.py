"""Jobs through the API: starting an export, reading jobs of one's projects, cancelling."""

from __future__ import annotations

import pytest
from django.test import Client

from prakriya.jobs.models import Job, JobState
from prakriya.jobs.services import job_enqueue
from projects import services
from tests.api import client_for, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.django_db


def test_engineer_starts_an_export_and_gets_202_with_the_job(project, engineer):
    response = client_for(engineer).post("/api/projects/digits/exports/", {"pause_seconds": 0.5}, format="json")
    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["kind"] == "project_export"
    assert job["state"] == "queued"
    assert job["project"] == "digits"
    assert job["params"] == {"pause_seconds": 0.5}
    assert job["created_by"] == "engineer"
    assert response.headers["Location"].endswith(f"/api/jobs/{job['id']}/")


def test_export_without_a_body_uses_no_pause(project, lead):
    response = client_for(lead).post("/api/projects/digits/exports/")
    assert response.status_code == 202
    assert response.json()["params"] == {"pause_seconds": 0.0}


def test_viewer_cannot_start_an_export(project, viewer):
    assert client_for(viewer).post("/api/projects/digits/exports/").status_code == 403
    assert not Job.objects.exists()


def test_members_list_the_jobs_their_role_may_read(project, private_project, lead, engineer, annotator, outsider):
    public_job = services.project_export_start(project=project, actor=lead)
    private_job = services.project_export_start(project=private_project, actor=lead)
    listed = client_for(engineer).get("/api/jobs/").json()
    assert sorted(j["id"] for j in listed["results"]) == sorted([public_job.pk, private_job.pk])
    assert "log" not in listed["results"][0]
    # An export is a copy of the whole project: those who may launch it read it, nobody else.
    assert client_for(annotator).get("/api/jobs/").json()["results"] == []
    assert client_for(outsider).get("/api/jobs/").json()["results"] == []


def test_jobs_filter_by_project_and_state(project, private_project, lead):
    services.project_export_start(project=project, actor=lead)
    cancelled = services.project_export_start(project=private_project, actor=lead)
    Job.objects.filter(pk=cancelled.pk).update(state=JobState.CANCELLED)
    client = client_for(lead)
    by_project = client.get("/api/jobs/", {"project": "secret-forms"}).json()["results"]
    assert [j["id"] for j in by_project] == [cancelled.pk]
    by_state = client.get("/api/jobs/", {"state": "cancelled"}).json()["results"]
    assert [j["id"] for j in by_state] == [cancelled.pk]
    assert client.get("/api/jobs/", {"state": "sideways"}).status_code == 400


def test_job_detail_includes_the_log(project, lead):
    job = services.project_export_start(project=project, actor=lead)
    Job.objects.filter(pk=job.pk).update(log="exporting digits\n")
    data = client_for(lead).get(f"/api/jobs/{job.pk}/").json()
    assert data["log"] == "exporting digits\n"


def test_outsider_gets_404_on_a_public_projects_job(project, lead, outsider):
    # Jobs are working machinery: visible to members only, whatever the project's visibility.
    job = services.project_export_start(project=project, actor=lead)
    assert client_for(outsider).get(f"/api/jobs/{job.pk}/").status_code == 404
    assert client_for(outsider).post(f"/api/jobs/{job.pk}/cancel/").status_code == 404


def test_anonymous_gets_401_on_jobs(project, lead):
    job = services.project_export_start(project=project, actor=lead)
    assert client_for(None).get("/api/jobs/").status_code == 401
    assert client_for(None).get(f"/api/jobs/{job.pk}/").status_code == 401


def test_engineer_cancels_a_queued_job(project, lead, engineer):
    job = services.project_export_start(project=project, actor=lead)
    response = client_for(engineer).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"


def test_cancelling_a_running_job_asks_the_worker_to_stop(project, lead):
    job = services.project_export_start(project=project, actor=lead)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    response = client_for(lead).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.json()["state"] == "running"
    assert response.json()["cancel_requested"] is True


def test_cancelling_a_finished_job_changes_nothing(project, lead):
    job = services.project_export_start(project=project, actor=lead)
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    response = client_for(lead).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "succeeded"


@pytest.mark.parametrize("role", ["viewer", "annotator"])
def test_members_who_cannot_launch_jobs_cannot_cancel_them(project, lead, users, role):
    job = services.project_export_start(project=project, actor=lead)
    # They cannot read an export job either: it does not exist for them.
    assert client_for(users[role]).post(f"/api/jobs/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


@pytest.mark.parametrize("role", ["viewer", "annotator"])
def test_members_who_read_a_job_but_cannot_launch_jobs_cannot_cancel_it(project, lead, users, role):
    job = job_enqueue(kind="experiments_train", project=project, created_by=lead, params={"trainer": "majority"})
    response = client_for(users[role]).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == (403 if role == "viewer" else 404)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


# Which role reads which kind of job: as their pages do. Agreement numbers are on the agreement
# page (lead, engineers); training jobs are runs (viewers follow runs; annotators do not).
READERS = {
    "annotation_agreement": {"lead", "engineer"},
    "project_export": {"lead", "engineer"},
    "dataset_version_write": {"lead", "engineer"},
    "experiments_train": {"lead", "engineer", "viewer"},
    "experiments_test_evaluation": {"lead", "engineer", "viewer"},
}


@pytest.mark.parametrize("kind", sorted(READERS))
def test_a_job_is_read_by_exactly_the_roles_that_read_its_page(project, users, lead, kind, client):
    job = job_enqueue(kind=kind, project=project, created_by=lead)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED, result={"percent_agreement": 0.61}, log="alpha 0.612\n"
    )
    for role in ("outsider", "viewer", "annotator", "engineer", "lead"):
        api = client_for(users[role])
        expected = 200 if role in READERS[kind] else 404
        assert api.get(f"/api/jobs/{job.pk}/").status_code == expected, role
        listed = {j["id"] for j in api.get("/api/jobs/").json()["results"]}
        assert (job.pk in listed) == (role in READERS[kind]), role
        client.force_login(users[role])
        assert client.get(f"/jobs/{job.pk}/").status_code == expected, role
        assert client.get(f"/jobs/{job.pk}/status/").status_code == expected, role


def test_job_parameters_results_and_logs_name_no_server_folder(project, lead, settings):
    data = str(settings.DATA_DIR)
    job = job_enqueue(kind="project_export", project=project, created_by=lead, params={"pause_seconds": 0})
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED,
        params={"pause_seconds": 0, "folder": f"{data}/staging/abc"},
        result={"file": "export-1.json", "detail": [f"{settings.PRAKRIYA_DVC_ROOT}/digits"]},
        message=f"Could not write {settings.PRAKRIYA_EXPORT_DIR}/x.json",
        log=f"Traceback ... {settings.PRAKRIYA_DVC_ROOT}/digits/.dvc/config\n",
    )
    api = client_for(lead).get(f"/api/jobs/{job.pk}/").json()
    listed = client_for(lead).get("/api/jobs/").json()["results"][0]
    page = Client()
    page.force_login(lead)
    status = page.get(f"/jobs/{job.pk}/status/").json()
    for shown in (api, listed, status):
        assert data not in repr(shown) and str(settings.PRAKRIYA_DVC_ROOT) not in repr(shown)
    assert api["params"]["folder"] == "<data>/staging/abc"
    assert api["result"]["detail"] == ["<repositories>/digits"]
    assert api["log"] == "Traceback ... <repositories>/digits/.dvc/config\n"
    assert status["message"] == "Could not write <exports>/x.json"
