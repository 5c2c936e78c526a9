"""A person's home page: what waits for them across their projects (reviews for a lead, returned
deliverables for whoever edits them, labelling queues for annotators, evaluations to decide),
their jobs and projects, and the count of waiting things beside "Home" in every page's header."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from experiments.kinds import TRAIN
from experiments.models import EvaluationState, TestEvaluation
from prakriya.jobs.models import Job, JobState
from projects.home import home_for, waiting_count
from projects.models import Deliverable, DeliverableKind, DeliverableState
from tests.factories import make_project
from tests.fixtures_annotation import make_version

pytestmark = pytest.mark.django_db


def deliverable_in(project, kind: str, state: str) -> Deliverable:
    deliverable, _ = Deliverable.objects.update_or_create(project=project, kind=kind, defaults={"state": state})
    return deliverable


def sections(user) -> dict:
    return {section.key: section for section in home_for(user=user)}


def page_of(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("projects:home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def world(project, private_project, lead, engineer, annotator):
    """Work waiting in both projects: a submitted data document (public project), a baselines
    deliverable returned with changes requested (private project), a campaign with items left for
    the annotator, an evaluation the engineer requested."""
    from datasets.annotation import services as annotation_services
    from tests.experiments.runs_helpers import logged_run

    deliverable_in(project, DeliverableKind.DATA_DOCUMENT, DeliverableState.SUBMITTED)
    deliverable_in(private_project, DeliverableKind.BASELINES, DeliverableState.CHANGES_REQUESTED)
    campaign = annotation_services.campaign_create(
        version=make_version(project, count=6), actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive", "shortcut": "p"}, {"name": "negative", "shortcut": "n"}],
        overlap=1, seed=7, annotators=[annotator],
    )
    run = logged_run(project, name="mlp candidate")
    evaluation = TestEvaluation.objects.create(project=project, run=run, requested_by=engineer, reason="ready")
    return {"campaign": campaign, "evaluation": evaluation}


def test_a_lead_sees_what_waits_for_their_review_and_decision(world, project, lead):
    mine = sections(lead)

    assert [i.text for i in mine["reviews"].items] == [f"Data document — {project.title}"]
    assert mine["reviews"].items[0].url == reverse("projects:deliverable", args=[project.slug, "data_document"])
    assert [i.url for i in mine["evaluations"].items] == [
        reverse("experiments:evaluation", args=[project.slug, world["evaluation"].pk])]
    # The private project's returned baselines wait on the lead too (a lead edits deliverables).
    assert mine["changes"].waiting == 1
    assert waiting_count(user=lead) == 3
    # Waiting work comes before the person's projects.
    assert list(mine)[-1] == "projects"


def test_an_engineer_sees_the_deliverable_returned_with_changes_and_nothing_to_review(
    world, private_project, engineer
):
    mine = sections(engineer)

    assert [i.text for i in mine["changes"].items] == [f"Baselines and end-to-end module — {private_project.title}"]
    assert "reviews" not in mine and "evaluations" not in mine
    assert waiting_count(user=engineer) == 1


def test_an_annotator_sees_their_queue_with_what_is_left_and_the_header_counts_it(world, project, annotator):
    mine = sections(annotator)

    (queue,) = mine["labelling"].items
    assert queue.url == reverse("annotation:label", args=[project.slug, world["campaign"].slug])
    assert queue.detail == "6 items left for you"
    assert set(mine) == {"labelling", "projects"}
    html = page_of(annotator)
    assert "Your labelling queues" in html and "6 items left for you" in html
    assert 'aria-label="Home: 1 waiting on you"' in html


def test_an_outsider_sees_nothing_of_projects_they_are_not_in(world, outsider):
    mine = sections(outsider)

    assert set(mine) == {"projects"} and mine["projects"].items == []
    assert waiting_count(user=outsider) == 0
    html = page_of(outsider)
    assert "Secret forms" not in html and "Data document" not in html and "waiting on you" not in html


def test_a_person_sees_their_running_and_recent_jobs_linking_to_them(project, engineer, lead):
    running = Job.objects.create(kind=TRAIN, project=project, created_by=engineer, state=JobState.RUNNING,
                                 progress=40)
    Job.objects.create(kind=TRAIN, project=project, created_by=lead, state=JobState.RUNNING)  # not theirs
    other = make_project(lead=lead, slug="elsewhere")
    Job.objects.create(kind=TRAIN, project=other, created_by=engineer, state=JobState.RUNNING)  # a project they are not in

    (item,) = sections(engineer)["jobs"].items

    assert item.url == reverse("projects:job", args=[running.pk]) and item.detail == "running, 40%"
    assert item.text == f"Training — {project.title}"


def test_anonymous_is_sent_to_log_in_and_logging_in_lands_on_home(client, lead, password):
    response = client.get(reverse("projects:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    landed = client.post(reverse("login"), {"username": lead.username, "password": password})
    assert landed.status_code == 302 and landed["Location"] == reverse("projects:home")


def test_evaluations_already_decided_do_not_wait(world, lead):
    TestEvaluation.objects.filter(pk=world["evaluation"].pk).update(state=EvaluationState.APPROVED)
    assert "evaluations" not in sections(lead)
