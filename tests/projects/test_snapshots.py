"""An approval freezes the deliverable: its narrative and evidence as a project viewer read them at
approval, with the versions behind them and a SHA-256. The approved page shows that frozen version
and says what reads differently now; every approval stays readable and downloadable as one HTML
file. (Run-based evidence: tests/experiments/test_deliverable_evidence.py.)"""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError

from projects import evidence
from projects import services as project_services
from projects.literature import services as literature_services
from projects.models import DeliverableKind, DeliverableSnapshot, DeliverableState

pytestmark = pytest.mark.django_db

PAGE = "/projects/digits/deliverables/project_page/"
SURVEY = "/projects/digits/deliverables/literature_survey/"


def _charter(project, lead, problem: str) -> None:
    project_services.project_update_charter(
        project=project, actor=lead, problem_statement=problem, current_process="Clerks key in every form by hand.",
        ml_role="A model reads the digits; clerks check the doubtful ones.",
    )
    if not project.targets.filter(is_primary=True).exists():
        project_services.target_save(project=project, actor=lead, metric="accuracy", comparator=">=",
                                     threshold=0.97, is_primary=True)


def _approve(deliverable, engineer, lead) -> DeliverableSnapshot:
    project_services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")
    project_services.deliverable_transition(deliverable=deliverable, actor=lead, action="approve", comment="Good.")
    return deliverable.snapshots.order_by("-number").first()


def test_approving_the_project_page_freezes_the_charter_and_later_edits_show_as_changes(
    client, project, lead, engineer, viewer
):
    _charter(project, lead, "Forms arrive as **handwritten digits** at 40 000 a month.")
    page = project.deliverables.get(kind=DeliverableKind.PROJECT_PAGE)
    snapshot = _approve(page, engineer, lead)
    assert snapshot.number == 1 and snapshot.approved_by == lead
    assert "40 000 a month" in snapshot.text["Problem statement"]
    assert "accuracy ≥ 0.97 (primary)" in snapshot.text["Targets"]

    client.force_login(viewer)
    html = client.get(PAGE).content.decode()
    assert 'data-testid="approval-frozen"' in html and 'data-testid="unchanged-since-approval"' in html
    assert 'data-testid="changed-since-approval"' not in html

    # The charter moves on after the approval: the approved page still shows what was approved,
    # and says what reads differently now, line by line.
    _charter(project, lead, "Forms arrive as handwritten digits at 90 000 a month.")
    project_services.target_save(project=project, actor=lead, metric="latency_p95_ms", comparator="<=", threshold=20)
    html = client.get(PAGE).content.decode()
    frozen_part = html[html.index('data-testid="frozen-evidence"'):]
    assert "40 000 a month" in frozen_part and "90 000" not in frozen_part
    changes = html[html.index('data-testid="changed-since-approval"'):html.index('data-testid="frozen-evidence"')]
    assert '<span class="diff-del">- Forms arrive as **handwritten digits** at 40 000 a month.</span>' in changes
    assert '<span class="diff-add">+ Forms arrive as handwritten digits at 90 000 a month.</span>' in changes
    assert "latency_p95_ms ≤ 20" in changes
    snapshot.refresh_from_db()
    assert "90 000" not in str(snapshot.text) and "90 000" not in str(snapshot.sections)

    # The download is one file with the frozen numbers and the hash of what was approved.
    download = client.get(f"{PAGE}export/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="digits-project-page-approval-1.html"'
    exported = download.content.decode()
    assert "40 000 a month" in exported and "90 000" not in exported
    assert snapshot.content_hash in exported
    assert "<style>" in exported and 'href="/static/' not in exported and 'src="/static/' not in exported


def test_the_hash_is_the_sha256_of_what_was_approved(project, lead, engineer):
    _charter(project, lead, "Digits.")
    snapshot = _approve(project.deliverables.get(kind=DeliverableKind.PROJECT_PAGE), engineer, lead)
    frozen = evidence.frozen(snapshot)
    assert snapshot.content_hash == evidence.content_hash(kind=DeliverableKind.PROJECT_PAGE, evidence=frozen)
    assert len(snapshot.content_hash) == 64 and int(snapshot.content_hash, 16) >= 0
    # The hash covers the narrative: another body gives another hash.
    frozen.body = "something else"
    assert evidence.content_hash(kind=DeliverableKind.PROJECT_PAGE, evidence=frozen) != snapshot.content_hash
    assert hashlib.sha256(b"").hexdigest() != snapshot.content_hash


def test_a_reopened_deliverable_keeps_every_approval_readable(client, project, lead, engineer, viewer):
    entry = literature_services.literature_entry_create(
        project=project, actor=engineer, title="Gradient-based learning applied to document recognition",
        authors="LeCun et al.", year=1998, approach="CNN", reported_result="0.8% error on MNIST",
        compute_needed="One workstation", feasibility=3,
    )
    survey = project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)
    project_services.deliverable_save_body(deliverable=survey, actor=engineer, body="LeNet first.")
    first = _approve(survey, engineer, lead)
    assert "0.8% error on MNIST" in first.text[next(iter(first.text))]

    project_services.deliverable_transition(deliverable=survey, actor=lead, action="reopen", comment="Add ViT.")
    survey.refresh_from_db()
    assert survey.state == DeliverableState.DRAFT
    literature_services.literature_entry_update(entry=entry, actor=engineer, reported_result="0.7% error on MNIST")
    second = _approve(survey, engineer, lead)
    assert second.number == 2

    client.force_login(viewer)
    page = client.get(SURVEY).content.decode()
    assert 'data-testid="approvals"' in page
    assert f"{SURVEY}approvals/1/" in page and f"{SURVEY}approvals/2/" in page
    one = client.get(f"{SURVEY}approvals/1/").content.decode()
    assert "0.8% error on MNIST" in one and "0.7% error" not in one
    two = client.get(f"{SURVEY}approvals/2/").content.decode()
    assert "0.7% error on MNIST" in two
    exported = client.get(f"{SURVEY}approvals/1/export/").content.decode()
    assert "0.8% error on MNIST" in exported and first.content_hash in exported
    assert client.get(f"{SURVEY}approvals/3/").status_code == 404
    assert client.get(f"{SURVEY}approvals/3/export/").status_code == 404


def test_a_draft_exports_as_what_it_reads_now_and_says_it_is_not_approved(client, project, engineer):
    survey = project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)
    project_services.deliverable_save_body(deliverable=survey, actor=engineer, body="Prior work: *LeNet*.")
    client.force_login(engineer)
    download = client.get(f"{SURVEY}export/")
    assert download["Content-Disposition"].endswith('-draft.html"')
    exported = download.content.decode()
    assert "<em>LeNet</em>" in exported and "not an approved version" in exported


def test_the_frozen_evidence_is_what_a_viewer_reads_never_the_approvers_forms(project, lead, engineer):
    literature_services.literature_entry_create(
        project=project, actor=engineer, title="LeNet", authors="LeCun", year=1998, approach="CNN",
        reported_result="99%", compute_needed="small", feasibility=3,
    )
    survey = project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)
    snapshot = _approve(survey, engineer, lead)
    html = "".join(section["html"] for section in snapshot.sections)
    assert "LeNet" in html
    assert "csrfmiddlewaretoken" not in html and "<form" not in html and "/edit/" not in html


def test_an_approval_is_never_rewritten(project, lead, engineer):
    _charter(project, lead, "Digits.")
    snapshot = _approve(project.deliverables.get(kind=DeliverableKind.PROJECT_PAGE), engineer, lead)
    before = (snapshot.body, snapshot.sections, snapshot.text, snapshot.content_hash)
    _charter(project, lead, "Letters too.")
    snapshot.refresh_from_db()
    assert (snapshot.body, snapshot.sections, snapshot.text, snapshot.content_hash) == before
    with pytest.raises(ValidationError):
        project_services.deliverable_transition(
            deliverable=project.deliverables.get(kind=DeliverableKind.PROJECT_PAGE), actor=lead, action="approve"
        )
    assert DeliverableSnapshot.objects.count() == 1


@pytest.mark.parametrize("kind", [kind for kind in DeliverableKind.values if kind != DeliverableKind.PROJECT_PAGE])
def test_every_stage_renders_its_evidence_for_a_reader_of_a_private_project(settings, tmp_path, private_project, kind):
    # With the production storage and no static files collected yet, as when `make run` seeds the
    # demo's approvals before its server collects them: evidence names no static file.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "prakriya.static_storage.HashedCompressedStaticFilesStorage"}}
    settings.STATIC_ROOT = tmp_path / "no-static-collected"
    deliverable = private_project.deliverables.get(kind=kind)
    found = evidence.collect(project=private_project, deliverable=deliverable)
    for section in found.sections:
        assert "<form" not in section.html and "csrfmiddlewaretoken" not in section.html
        assert section.title in found.text
