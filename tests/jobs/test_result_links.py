"""A finished job leads to what it made, for those who may see it; a queued job says why it waits."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from datasets import kinds as dataset_kinds
from datasets.models import Dataset, DatasetVersion, VersionState
from deployments import kinds as deployment_kinds
from experiments import kinds as experiment_kinds
from prakriya.jobs import registry
from prakriya.jobs.models import Job, JobState
from tests.api import client_for

pytestmark = pytest.mark.django_db


def _job(project, kind: str, *, state=JobState.SUCCEEDED, queue="default", **fields) -> Job:
    return Job.objects.create(kind=kind, queue=queue, project=project, state=state, **fields)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_training_job_leads_its_readers_to_its_run_and_outsiders_nowhere(private_project, engineer, viewer, outsider):
    job = _job(private_project, experiment_kinds.TRAIN, queue="training", result={"run_id": "abc123"})
    run_page = reverse("experiments:run", args=[private_project.slug, "abc123"])
    for reader in (engineer, viewer):
        link = registry.result_link(job, reader)
        assert (link.url, link.text) == (run_page, "Open the run")
    assert registry.result_link(job, outsider) is None
    assert registry.result_link(job, AnonymousUser()) is None


def test_a_version_write_leads_to_the_version_it_wrote(private_project, lead, engineer, outsider):
    dataset = Dataset.objects.create(project=private_project, slug="forms", name="Forms", kind="text")
    job = _job(private_project, dataset_kinds.VERSION_WRITE, target_id=dataset.pk)
    DatasetVersion.objects.create(dataset=dataset, number=3, state=VersionState.READY, job=job)
    link = registry.result_link(job, engineer)
    assert link.url == reverse("datasets:version", args=[private_project.slug, "forms", 3])
    assert link.text == "Open Forms v3"
    assert registry.result_link(job, outsider) is None
    assert registry.result_link(job, AnonymousUser()) is None


def test_an_export_job_leads_to_its_export_page(private_project, engineer, outsider):
    job = _job(private_project, deployment_kinds.MODEL_EXPORT, queue="export", target_id=7)
    assert registry.result_link(job, engineer).url == reverse("deployments:export", args=[private_project.slug, 7])
    assert registry.result_link(job, outsider) is None
    assert registry.result_link(job, AnonymousUser()) is None


def test_the_status_of_a_succeeded_job_gives_the_page_to_go_to(private_project, engineer):
    job = _job(private_project, experiment_kinds.TRAIN, queue="training", result={"run_id": "abc123"})
    client = _signed_in(engineer)
    status = client.get(reverse("projects:job_status", args=[job.pk])).json()
    assert status["result_url"] == reverse("experiments:run", args=[private_project.slug, "abc123"])
    page = client.get(reverse("projects:job", args=[job.pk])).content.decode()
    assert "Open the run →" in page
    # Still running: a page waiting on it has nowhere to go yet.
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    assert client.get(reverse("projects:job_status", args=[job.pk])).json()["result_url"] is None


def test_a_queued_job_says_its_queue_and_how_many_jobs_are_ahead(private_project, project, engineer):
    for _ in range(2):  # older queued jobs on the training queue, of any project
        _job(project, experiment_kinds.TRAIN, state=JobState.QUEUED, queue="training")
    _job(private_project, experiment_kinds.TRAIN, state=JobState.RUNNING, queue="training")  # not waiting
    _job(private_project, dataset_kinds.PROFILE, state=JobState.QUEUED)  # another queue
    job = _job(private_project, experiment_kinds.TRAIN, state=JobState.QUEUED, queue="training")
    _job(private_project, experiment_kinds.TRAIN, state=JobState.QUEUED, queue="training")  # behind it
    text = "Waiting for a worker on the training queue: 2 jobs ahead"

    client = _signed_in(engineer)
    status = client.get(reverse("projects:job_status", args=[job.pk])).json()
    assert (status["message"], status["queue"], status["queued_ahead"]) == (text, "training", 2)
    assert text in client.get(reverse("projects:job", args=[job.pk])).content.decode()
    api = client_for(engineer).get(f"/api/jobs/{job.pk}/").json()
    assert (api["waiting"], api["queued_ahead"]) == (text, 2)

    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, message="Started")
    status = client.get(reverse("projects:job_status", args=[job.pk])).json()
    assert (status["message"], status["queued_ahead"]) == ("Started", None)
