"""Jobs through the API: starting an export, reading jobs of one's projects, cancelling."""

from __future__ import annotations

import pytest

from prakriya.jobs.models import Job, JobState
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


def test_members_list_their_projects_jobs(project, private_project, lead, annotator, outsider):
    public_job = services.project_export_start(project=project, actor=lead)
    private_job = services.project_export_start(project=private_project, actor=lead)
    listed = client_for(annotator).get("/api/jobs/").json()
    assert sorted(j["id"] for j in listed["results"]) == sorted([public_job.pk, private_job.pk])
    assert "log" not in listed["results"][0]
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
    assert client_for(users[role]).post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
