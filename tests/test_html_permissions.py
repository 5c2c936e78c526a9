"""Who gets what from every HTML route: the permission matrix of the server-rendered UI.

The tables below are the spec. Each cell is the status a role gets; LOGIN means a 302 to the
login page. A private project is invisible to whoever is not a member: anonymous visitors and
outsiders get 404 on every project route, whatever the public project's table says.

Each table (and visibility) is one test: its world is built once and every route's and role's
request runs in a savepoint that is rolled back (tests/matrix.py); a failure lists every cell that
is wrong. (The project routes need three states of the project, the job routes two jobs: one test
per state.)
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from knox.models import AuthToken
from PIL import Image

from prakriya.accounts import services as account_services
from prakriya.jobs.models import Job, JobState
from projects import evidence, services
from projects.export import build_project_export
from projects.models import DeliverableKind, DeliverableState, Project
from tests.conftest import ROLES
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Five users per test: the production hasher's cost would dominate the matrix's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


LOGIN = "login"  # a 302 to the login page
R = "302"  # a redirect somewhere other than the login page (the action succeeded)

ANON, OUT, VIEW, ANNO, ENG, LEAD = ROLES  # anonymous, outsider, viewer, annotator, engineer, lead


def row(anonymous, outsider, viewer, annotator, engineer, lead) -> dict[str, Any]:
    return dict(zip(ROLES, (anonymous, outsider, viewer, annotator, engineer, lead), strict=True))


EVERYONE = row(200, 200, 200, 200, 200, 200)
EDITORS_PAGE = row(LOGIN, 403, 403, 403, 200, 200)
EDITORS_ACTION = row(LOGIN, 403, 403, 403, R, R)
LEAD_PAGE = row(LOGIN, 403, 403, 403, 403, 200)
LEAD_ACTION = row(LOGIN, 403, 403, 403, 403, R)
MEMBERS_PAGE = row(LOGIN, 404, 200, 200, 200, 200)
MEMBER_EDITORS_ACTION = row(LOGIN, 404, 403, 403, R, R)

# --- Routes under /projects/<slug>/ on the PUBLIC project -----------------------------------
# (route name, method, which request, expected per role)
PROJECT_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("detail", "GET", "detail", EVERYONE),
    ("timeline", "GET", "timeline", EVERYONE),
    ("history", "GET", "history", EVERYONE),
    ("revision", "GET", "revision", EVERYONE),
    ("deliverable", "GET", "deliverable", EVERYONE),
    ("deliverable", "GET", "deliverable-charter", EVERYONE),
    # A deliverable and its approvals are read by whoever reads the project (tests/projects/test_snapshots.py).
    ("deliverable_export", "GET", "deliverable-export", EVERYONE),
    ("deliverable_approval", "GET", "deliverable-approval", EVERYONE),
    ("deliverable_approval_export", "GET", "deliverable-approval-export", EVERYONE),
    ("charter_edit", "GET", "charter_edit", EDITORS_PAGE),
    ("charter_edit", "POST", "charter_edit-save", EDITORS_ACTION),
    ("expectations", "GET", "expectations", EDITORS_PAGE),
    ("expectations", "POST", "expectations-add-target", EDITORS_ACTION),
    ("expectations", "POST", "expectations-add-value", EDITORS_ACTION),
    ("target_delete", "POST", "target_delete", EDITORS_ACTION),
    ("value_delete", "POST", "value_delete", EDITORS_ACTION),
    ("export", "POST", "export", EDITORS_ACTION),
    ("deliverable", "POST", "deliverable-save", EDITORS_ACTION),
    ("deliverable_transition", "POST", "transition-submit", row(LOGIN, 403, 403, 403, R, R)),
    ("deliverable_transition", "POST", "transition-approve", row(LOGIN, 403, 403, 403, 403, R)),
    ("deliverable_transition", "POST", "transition-request-changes", row(LOGIN, 403, 403, 403, 403, R)),
    ("settings", "GET", "settings", LEAD_PAGE),
    ("settings", "POST", "settings-save", LEAD_ACTION),
    ("settings", "POST", "settings-add-member", LEAD_ACTION),
    ("member_remove", "POST", "member_remove", LEAD_ACTION),
    # The viewer is not locked out: the lead is sent back with a message (tests/test_sign_in_lockout.py).
    ("member_unlock", "POST", "member_unlock", LEAD_ACTION),
]

# --- Job routes (/jobs/<id>/…) for an export job of the project -------------------------------
# A job is read by the roles that read what it produces (JobKind.readers): an export, a copy of the
# whole project, by those who may launch it; for everyone else it does not exist. Anonymous
# visitors are sent to log in first (the URL says nothing about the project). Which role reads
# which kind: tests/api/test_jobs_api.py.
JOB_READERS_PAGE = row(LOGIN, 404, 404, 404, 200, 200)
JOB_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("job", "GET", "job", JOB_READERS_PAGE),
    ("job_status", "GET", "job_status", JOB_READERS_PAGE),
    ("job_download", "GET", "job_download", JOB_READERS_PAGE),
    ("job_cancel", "POST", "job_cancel", row(LOGIN, 404, 404, 404, R, R)),
]

# --- Routes that name no project ------------------------------------------------------------
GLOBAL_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("projects:directory", "GET", "directory", EVERYONE),
    # Everyone's own page: what waits for them (tests/projects/test_home.py: nobody sees another's).
    ("projects:home", "GET", "home", row(LOGIN, 200, 200, 200, 200, 200)),
    ("projects:create", "GET", "create", row(LOGIN, 200, 200, 200, 200, 200)),
    ("projects:create", "POST", "create-save", row(LOGIN, R, R, R, R, R)),
    ("login", "GET", "login", EVERYONE),
    ("logout", "POST", "logout", row(R, R, R, R, R, R)),
    ("sign_up", "GET", "sign_up", row(200, R, R, R, R, R)),
    ("sign_up_sent", "GET", "sign_up_sent", EVERYONE),
    ("sign_up_confirm", "GET", "sign_up_confirm", row(200, R, R, R, R, R)),
    # Staff only; no role of a project is staff.
    ("lockouts", "GET", "lockouts", row(LOGIN, 403, 403, 403, 403, 403)),
    ("profile", "GET", "profile", row(LOGIN, 200, 200, 200, 200, 200)),
    ("profile", "POST", "profile-save", row(LOGIN, R, R, R, R, R)),
    ("token_create", "POST", "token_create", row(LOGIN, R, R, R, R, R)),
    ("token_revoke", "POST", "token_revoke", row(LOGIN, R, R, R, R, R)),
]

# --- Dataset routes under /projects/<slug>/data/ (datasets/urls.py), same rules as PROJECT_ROUTES --
DATASET_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("list", "GET", "data", EVERYONE),
    ("list", "POST", "data-create", EDITORS_ACTION),
    ("detail", "GET", "dataset", EVERYONE),
    ("upload", "POST", "upload", EDITORS_ACTION),
    ("import_sklearn", "POST", "import", EDITORS_ACTION),
    ("document", "GET", "document", EVERYONE),
    ("document_edit", "GET", "document_edit", EDITORS_PAGE),
    ("document_edit", "POST", "document_edit-save", EDITORS_ACTION),
    ("version", "GET", "version", EVERYONE),
    ("reprofile", "POST", "reprofile", EDITORS_ACTION),
    ("split", "POST", "split", EDITORS_ACTION),
    ("derive", "GET", "derive", EDITORS_PAGE),
    ("derive", "POST", "derive-save", EDITORS_ACTION),
    ("items", "GET", "items", EVERYONE),
    ("item_content", "GET", "item_content", EVERYONE),
    ("download", "GET", "download", EVERYONE),
    ("diff", "GET", "diff", EVERYONE),
]

# --- Campaign routes under /projects/<slug>/campaigns/ (datasets/annotation/urls.py) ----------
# A campaign is visible to the lead and engineers, and to the annotators assigned to it (here the
# annotator, the engineer and the lead are); to anyone else it does not exist (404). Anonymous
# visitors are sent to log in (on the private project they get 404, as for every route there).
ASSIGNED_PAGE = row(LOGIN, 404, 404, 200, 200, 200)
MANAGER_PAGE = row(LOGIN, 404, 404, 403, 200, 200)
MANAGER_ACTION = row(LOGIN, 404, 404, 403, R, R)
CAMPAIGN_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("list", "GET", "c-list", row(LOGIN, 200, 200, 200, 200, 200)),
    ("create", "GET", "c-create", EDITORS_PAGE),
    ("create", "POST", "c-create-save", EDITORS_ACTION),
    ("detail", "GET", "c-detail", ASSIGNED_PAGE),
    ("edit", "GET", "c-edit", MANAGER_PAGE),
    ("edit", "POST", "c-edit-save", MANAGER_ACTION),
    ("close", "POST", "c-close", MANAGER_ACTION),
    ("release", "POST", "c-release", MANAGER_ACTION),
    ("agreement", "GET", "c-agreement", MANAGER_PAGE),
    ("agreement", "POST", "c-agreement-run", MANAGER_ACTION),
    ("adjudicate", "GET", "c-adjudicate", row(LOGIN, 404, 404, 403, 403, 200)),
    ("adjudicate_item", "GET", "c-adjudicate-item", row(LOGIN, 404, 404, 403, 403, 200)),
    ("adjudicate_item", "POST", "c-adjudicate-item-save", row(LOGIN, 404, 404, 403, 403, R)),
    ("gold_sample", "POST", "c-gold-sample", row(LOGIN, 404, 404, 403, 403, R)),
    ("guideline_edit", "GET", "c-guideline-edit", MANAGER_PAGE),
    ("guideline_edit", "POST", "c-guideline-edit-save", MANAGER_ACTION),
    # Six items, one labelled: too few to train on, refused with a form error.
    ("active", "POST", "c-active", row(LOGIN, 404, 404, 403, 400, 400)),
    ("labelstudio_export", "GET", "c-ls-export", MANAGER_PAGE),
    ("labelstudio_import", "GET", "c-ls-import", MANAGER_PAGE),
    ("labelstudio_sync", "POST", "c-ls-sync", MANAGER_ACTION),
    ("label", "GET", "c-label", ASSIGNED_PAGE),
    ("skips_return", "POST", "c-skips-return", row(LOGIN, 404, 404, R, R, R)),
    ("guideline", "GET", "c-guideline", ASSIGNED_PAGE),
    ("mine", "GET", "c-mine", ASSIGNED_PAGE),
    # The annotator's own annotation: nobody else's to edit.
    ("annotation_edit", "GET", "c-annotation-edit", row(LOGIN, 404, 404, 200, 404, 404)),
    ("annotation_edit", "POST", "c-annotation-edit-save", row(LOGIN, 404, 404, R, 404, 404)),
    ("item_content", "GET", "c-item-content", ASSIGNED_PAGE),
]

# Every HTML route of projects/urls.py, datasets/urls.py, datasets/annotation/urls.py and
# prakriya/accounts/urls.py appears in the tables.
ALL_ROUTE_NAMES = (
    {"projects:" + name for name, *_ in PROJECT_ROUTES + JOB_ROUTES}
    | {"datasets:" + name for name, *_ in DATASET_ROUTES}
    | {"annotation:" + name for name, *_ in CAMPAIGN_ROUTES}
    | {name for name, *_ in GLOBAL_ROUTES}
)


def test_the_tables_cover_every_html_route():
    from datasets import urls as dataset_urls
    from datasets.annotation import urls as annotation_urls
    from prakriya.accounts import urls as account_urls
    from projects import urls as project_urls

    names = (
        {"projects:" + p.name for p in project_urls.urlpatterns}
        | {"datasets:" + p.name for p in dataset_urls.urlpatterns}
        | {"annotation:" + p.name for p in annotation_urls.urlpatterns}
        | {p.name for p in account_urls.urlpatterns}
    )
    assert names == ALL_ROUTE_NAMES | LITERATURE_ROUTE_NAMES


# The literature survey's and the experiments app's HTML routes have their matrices beside their
# other tests; each table's rows name the route they check (or say it in words, translated here).
_EXPERIMENTS_ROW_ROUTES = {
    "page": "run_analysis", "compare page": "analysis_compare",  # tests/experiments/analysis/test_pages.py ROUTES
    "sweep GET": "sweep", "sweeps POST": "sweeps",  # test_sweeps.MATRIX
    "register POST": "register",  # test_registry.MATRIX
    "overfit POST": "overfit",  # test_overfit_job.MATRIX
    "evidence runs POST": "deliverable_runs",  # test_deliverable_evidence.MATRIX
}


def _literature_route_names() -> set[str]:
    from tests.projects import test_literature

    return {"projects:" + name for name, *_ in test_literature.HTML_ROUTES}


LITERATURE_ROUTE_NAMES = _literature_route_names()


def test_the_experiments_matrices_cover_every_experiments_html_route():
    from experiments import urls as experiment_urls
    from tests.experiments import (
        test_deliverable_evidence,
        test_overfit_job,
        test_pages_permissions,
        test_registry,
        test_sweeps,
    )
    from tests.experiments.analysis import test_pages as test_analysis_pages
    from tests.experiments.evaluation import test_pages as test_evaluation_pages

    rows = (
        [name for name, *_ in test_pages_permissions.ROUTES]
        + [name for name, *_ in test_evaluation_pages.ROUTES if not name.startswith("api:")]
        + [_EXPERIMENTS_ROW_ROUTES.get(name) for name in test_analysis_pages.ROUTES]
        + [_EXPERIMENTS_ROW_ROUTES.get(name) for name, *_ in test_sweeps.MATRIX + test_registry.MATRIX]
        + [_EXPERIMENTS_ROW_ROUTES.get(name) for name, *_ in test_overfit_job.MATRIX]
        + [_EXPERIMENTS_ROW_ROUTES.get(name) for name, *_ in test_deliverable_evidence.MATRIX]
    )
    covered = {"experiments:" + name for name in rows if name}
    assert {"experiments:" + p.name for p in experiment_urls.urlpatterns} == covered


# --- Building the requests ------------------------------------------------------------------


@dataclass
class Call:
    url: str
    data: dict[str, Any] | None = None


def _charter_data(project: Project, **changes) -> dict[str, Any]:
    data = {field: getattr(project, field) for field in services.CHARTER_FIELDS}
    data.update(summary_of_change="Matrix test", **changes)
    return data


def _project_world(which: str) -> str:
    """The state of the project a request needs: its deliverable drafted for submitting, submitted
    for deciding, or neither."""
    if which.startswith(("transition-approve", "transition-request")):
        return "submitted"
    return "drafted" if which == "transition-submit" else "plain"


def _project_call(which: str, project: Project, lead) -> Call:
    return _project_calls(which, project, lead)[which]


def _project_calls(which: str, project: Project, lead) -> dict[str, Call]:
    """Builds the world `which` needs (see _project_world) and returns every request on it."""
    slug = project.slug

    def url(name, *args):
        return reverse(f"projects:{name}", args=[slug, *args])

    data_document = project.deliverables.get(kind=DeliverableKind.DATA_DOCUMENT)
    if which.startswith("transition-"):
        _complete_datasheet(project, lead)
    if which.startswith(("transition-approve", "transition-request")):
        services.deliverable_save_body(deliverable=data_document, actor=lead, body="# Data\n\nAll of it.")
        services.deliverable_transition(deliverable=data_document, actor=lead, action="submit")
    if which == "transition-submit":
        services.deliverable_save_body(deliverable=data_document, actor=lead, body="# Data\n\nAll of it.")
    # An earlier approval of the data document, for the approval routes.
    evidence.snapshot_freeze(deliverable=data_document, actor=lead)
    target = services.target_save(project=project, actor=lead, metric="accuracy", comparator=">=", threshold=0.9)
    estimate = services.value_estimate_save(
        project=project, actor=lead, quantity="Minutes per form", current=6, expected=2, unit="min"
    )
    viewer_membership = project.memberships.get(user__username="viewer")
    calls = {
        "detail": Call(url("detail")),
        "timeline": Call(url("timeline")),
        "history": Call(url("history")),
        "revision": Call(url("revision", 1)),
        "deliverable": Call(url("deliverable", "data_document")),
        "deliverable-charter": Call(url("deliverable", "project_page")),
        "deliverable-export": Call(url("deliverable_export", "data_document")),
        "deliverable-approval": Call(url("deliverable_approval", "data_document", 1)),
        "deliverable-approval-export": Call(url("deliverable_approval_export", "data_document", 1)),
        "charter_edit": Call(url("charter_edit")),
        "charter_edit-save": Call(url("charter_edit"), _charter_data(project, summary="Changed by the matrix")),
        "expectations": Call(url("expectations")),
        "expectations-add-target": Call(url("expectations"), {
            "form": "target", "target-metric": "latency_p95", "target-comparator": "<=",
            "target-threshold": "50", "target-unit": "ms", "target-condition": "", "target-notes": "",
        }),
        "expectations-add-value": Call(url("expectations"), {
            "form": "value", "value-quantity": "Errors", "value-current": "1.5", "value-expected": "0.5",
            "value-unit": "%",
        }),
        "target_delete": Call(url("target_delete", target.pk), {}),
        "value_delete": Call(url("value_delete", estimate.pk), {}),
        "export": Call(url("export"), {}),
        "deliverable-save": Call(url("deliverable", "data_document"), {"body": "Collected from forms."}),
        "transition-submit": Call(url("deliverable_transition", "data_document"), {"action": "submit"}),
        "transition-approve": Call(url("deliverable_transition", "data_document"), {"action": "approve"}),
        "transition-request-changes": Call(
            url("deliverable_transition", "data_document"), {"action": "request_changes", "comment": "More."}
        ),
        "settings": Call(url("settings")),
        "settings-save": Call(url("settings"), {"form": "settings", "visibility": project.visibility,
                                                 "tags": "vision, ocr"}),
        "settings-add-member": Call(url("settings"), {"form": "member", "username": "outsider",
                                                       "role": "viewer"}),
        "member_remove": Call(url("member_remove", viewer_membership.pk), {}),
        "member_unlock": Call(url("member_unlock", viewer_membership.pk), {}),
    }
    return calls


def _complete_datasheet(project: Project, lead) -> None:
    """The data document deliverable is submitted only with a complete datasheet per dataset."""
    from datasets import services as dataset_services
    from datasets.models import DatasetVersion, VersionState

    dataset = dataset_services.dataset_create(project=project, actor=lead, slug="survey", name="Survey",
                                              kind="tabular")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY,
                                            git_tag="survey-v1", item_count=0)
    dataset_services.data_document_save(
        dataset=dataset, actor=lead, version=version, collection_mode="collected",
        collection_description="Scans.", representativeness="All districts.", semantics="Digits.",
        labelling_process="Two clerks.", quality_assessment="Good.",
    )


def _succeeded_job(project: Project, lead) -> Job:
    job = Job.objects.create(kind="project_export", queue="export", project=project, created_by=lead)
    result = build_project_export(project, job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, progress=100.0, result=result)
    job.refresh_from_db()
    return job


def _job_calls(world: str, project: Project, lead) -> dict[str, Call]:
    """Builds the job the routes need, a queued one to cancel or a succeeded export to read, and
    returns the requests on it."""
    if world == "queued":
        job = Job.objects.create(kind="project_export", queue="export", project=project, created_by=lead)
        return {"job_cancel": Call(reverse("projects:job_cancel", args=[job.pk]), {})}
    job = _succeeded_job(project, lead)
    return {which: Call(reverse(f"projects:{which}", args=[job.pk])) for which in ("job", "job_status", "job_download")}


def _matrix_items(kind: str, number: int, root: Path | None = None) -> list:
    """Six items, labels cat/owl; v2 of the table differs from v1 in every row. With a root,
    the image files are written there too."""
    from datasets.ingest import StagedItem

    items = []
    for i in range(6):
        label = ["cat", "owl"][i % 2]
        if kind == "tabular":
            row = {"height": str(i + 10 * number)}
            digest = hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()
            items.append(StagedItem(key=f"r{i:06d}", label=label, content_hash=digest, size_bytes=4, row=row))
            continue
        out = io.BytesIO()
        Image.new("RGB", (4, 4), (40 * i, 9, 9)).save(out, "PNG")
        data = out.getvalue()
        key = f"img-{hashlib.sha256(data).hexdigest()[:16]}"
        if root is not None:
            (root / "images").mkdir(exist_ok=True)
            (root / "images" / f"{key}.png").write_bytes(data)
        items.append(StagedItem(key=key, label=label, content_hash=hashlib.sha256(data).hexdigest(),
                                size_bytes=len(data), file_path=f"images/{key}.png"))
    return items


MATRIX_VERSIONS = (("forms", "tabular", 1), ("forms", "tabular", 2), ("shapes", "image", 1))


@pytest.fixture(scope="session")
def _matrix_dvc(tmp_path_factory):
    """Real DVC repositories holding the matrix's dataset versions, written once per session and
    copied into each test's DVC folder (a DVC write per test would make the matrix crawl)."""
    from django.test import override_settings

    from datasets import storage
    from datasets.ingest.layout import write_layout

    root = tmp_path_factory.mktemp("matrix-dvc")
    commits = {}
    with override_settings(PRAKRIYA_DVC_ROOT=root / "dvc", PRAKRIYA_DVC_REMOTE_URL=str(root / "remote")):
        for project_slug in ("digits", "secret-forms"):
            for dataset_slug, kind, number in MATRIX_VERSIONS:
                source = root / f"source-{project_slug}-{dataset_slug}-{number}"
                source.mkdir()
                items = _matrix_items(kind, number, source)
                write_layout(kind=kind, root=source, items=items, columns=["height"] if kind == "tabular" else [])
                commits[(project_slug, dataset_slug, number)] = storage.commit_version(
                    project_slug=project_slug, dataset_slug=dataset_slug, number=number, source_dir=source,
                    message=f"matrix {dataset_slug} v{number}",
                )
    return root, commits


@pytest.fixture
def dataset_commits(_matrix_dvc, settings):
    root, commits = _matrix_dvc
    shutil.copytree(root / "dvc", settings.PRAKRIYA_DVC_ROOT)
    shutil.copytree(root / "remote", settings.PRAKRIYA_DVC_REMOTE_URL)
    return commits


def _dataset_versions(project: Project, lead, commits):
    """A tabular dataset with ready versions v1 and v2 (v2 from v1) and an image dataset with a
    ready v1, in the database and in the project's real DVC repository (see _matrix_dvc)."""
    from datasets import services as dataset_services
    from datasets.models import DatasetVersion, Item, VersionState

    datasets = {
        "forms": dataset_services.dataset_create(project=project, actor=lead, slug="forms", name="Forms",
                                                 kind="tabular"),
        "shapes": dataset_services.dataset_create(project=project, actor=lead, slug="shapes", name="Shapes",
                                                  kind="image"),
    }
    versions = {}
    for dataset_slug, kind, number in MATRIX_VERSIONS:
        committed = commits[(project.slug, dataset_slug, number)]
        version = DatasetVersion.objects.create(
            dataset=datasets[dataset_slug], number=number, parent=versions.get((dataset_slug, number - 1)),
            state=VersionState.READY, message="Matrix", git_tag=committed.tag, git_commit=committed.commit,
            dvc_md5=committed.dvc_md5, item_count=6, labelled_count=6, size_bytes=sum(i.size_bytes for i in _matrix_items(kind, number)),
            columns=["height"] if kind == "tabular" else [],
        )
        Item.objects.bulk_create(
            Item(version=version, key=i.key, label=i.label, content_hash=i.content_hash, size_bytes=i.size_bytes,
                 row=i.row, file_path=i.file_path)
            for i in _matrix_items(kind, number)
        )
        versions[(dataset_slug, number)] = version
    return versions[("forms", 1)]


def _dataset_calls(project: Project, lead, commits) -> dict[str, Call]:
    """Builds the datasets (see _dataset_versions) and returns every request on them."""
    v1 = _dataset_versions(project, lead, commits)
    data = f"/projects/{project.slug}/data/"
    forms = f"{data}forms/"
    document = {
        "version": v1.pk, "collection_mode": "collected", "collection_description": "Scans.",
        "representativeness": "All.", "semantics": "Height.", "labelling_process": "Clerks.",
        "quality_assessment": "Good.", "known_issues": "",
    }
    calls = {
        "data": Call(data),
        "data-create": Call(data, {"name": "Notes", "slug": "notes", "kind": "text", "description": ""}),
        "dataset": Call(forms),
        "upload": Call(f"{forms}upload/", {
            "file": SimpleUploadedFile("more.csv", b"height,label\n1,cat\n2,owl\n"), "message": "",
            "label_column": "label",
        }),
        "import": Call(f"{forms}import/", {"name": "iris"}),
        "document": Call(f"{forms}document/"),
        "document_edit": Call(f"{forms}document/edit/"),
        "document_edit-save": Call(f"{forms}document/edit/", document),
        "version": Call(f"{forms}v1/"),
        "reprofile": Call(f"{forms}v1/profile/", {}),
        "split": Call(f"{forms}v1/split/", {"seed": 3, "train": 0.34, "validation": 0.33, "test": 0.33}),
        "derive": Call(f"{forms}v1/derive/"),
        "derive-save": Call(f"{forms}v1/derive/", {"remove": "r000000", "relabel": "r000001,owl", "message": ""}),
        "items": Call(f"{forms}v1/items/"),
        "item_content": Call(f"{data}shapes/v1/items/{_matrix_items('image', 1)[0].key}/content"),
        "download": Call(f"{forms}v1/download/"),
        "diff": Call(f"{forms}v2/diff/1/"),
    }
    return calls


def _campaign_call(which: str, project: Project, lead, commits, users) -> Call:
    return _campaign_calls(project, lead, commits, users)[which]


def _campaign_calls(project: Project, lead, commits, users) -> dict[str, Call]:
    """A campaign over the image dataset's v1 (real files, for item_content): the annotator, the
    engineer and the lead assigned, overlap 2; the annotator and the engineer disagree on the
    first item."""
    from datasets.annotation import services as annotation_services
    from datasets.models import DatasetVersion

    _dataset_versions(project, lead, commits)
    shapes = DatasetVersion.objects.get(dataset__project=project, dataset__slug="shapes", number=1)
    campaign = annotation_services.campaign_create(
        version=shapes, actor=lead, name="Shapes", slug="shapes", task_type="single",
        labels=[{"name": "cat", "shortcut": "c"}, {"name": "owl", "shortcut": "o"}], overlap=2, order="sequential",
        annotators=[users[ANNO], users[ENG], users[LEAD]],
    )
    first = campaign.items.order_by("position").first()
    mine = annotation_services.annotation_submit(
        campaign=campaign, annotator=users[ANNO], campaign_item=first, value="cat", tool="api"
    )
    annotation_services.annotation_submit(
        campaign=campaign, annotator=users[ENG], campaign_item=first, value="owl", tool="api"
    )
    base = f"/projects/{project.slug}/campaigns/"
    c = f"{base}{campaign.slug}/"
    create = {
        "version": shapes.pk, "name": "Another", "slug": "another", "task_type": "single",
        "labels": "cat\nowl", "overlap": 1, "order": "random", "seed": 0, "lock_ttl_seconds": 600,
        "introduction": "",
    }
    calls = {
        "c-list": Call(base),
        "c-create": Call(f"{base}new/"),
        "c-create-save": Call(f"{base}new/", create),
        "c-detail": Call(c),
        "c-edit": Call(f"{c}settings/"),
        "c-edit-save": Call(f"{c}settings/", {"name": "Shapes again", "lock_ttl_seconds": 300,
                                               "annotators": [users[ANNO].pk]}),
        "c-close": Call(f"{c}close/", {}),
        "c-release": Call(f"{c}release/", {}),
        "c-agreement": Call(f"{c}agreement/"),
        "c-agreement-run": Call(f"{c}agreement/", {}),
        "c-adjudicate": Call(f"{c}adjudicate/"),
        "c-adjudicate-item": Call(f"{c}adjudicate/{first.pk}/"),
        "c-adjudicate-item-save": Call(f"{c}adjudicate/{first.pk}/", {"gold": "cat", "note": ""}),
        "c-gold-sample": Call(f"{c}adjudicate/sample/", {"size": "1", "seed": "0"}),
        "c-guideline-edit": Call(f"{c}guideline/edit/"),
        "c-guideline-edit-save": Call(f"{c}guideline/edit/", {
            "introduction": "Look closely.", "change_note": "Matrix", "definition_0": "A cat.", "definition_1": "An owl.",
        }),
        "c-active": Call(f"{c}active/", {"method": "entropy"}),
        "c-ls-export": Call(f"{c}labelstudio/export.json"),
        "c-ls-import": Call(f"{c}labelstudio/import/"),
        "c-ls-sync": Call(f"{c}labelstudio/sync/", {}),
        "c-label": Call(f"{c}label/"),
        "c-skips-return": Call(f"{c}label/skipped/", {}),
        "c-guideline": Call(f"{c}guideline/"),
        "c-mine": Call(f"{c}mine/"),
        "c-annotation-edit": Call(f"{c}mine/{mine.pk}/"),
        "c-annotation-edit-save": Call(f"{c}mine/{mine.pk}/", {"value": "owl", "revision": mine.revision}),
        "c-item-content": Call(f"{c}items/{first.pk}/content"),
    }
    return calls


def _global_call(which: str, user) -> Call:
    calls = {
        "directory": Call(reverse("projects:directory")),
        "create": Call(reverse("projects:create")),
        "create-save": Call(reverse("projects:create"), {
            "title": "A new one", "slug": "a-new-one", "summary": "", "visibility": "public", "tags": "",
        }),
        "login": Call(reverse("login")),
        "home": Call(reverse("projects:home")),
        "logout": Call(reverse("logout"), {}),
        "sign_up": Call(reverse("sign_up")),
        "sign_up_sent": Call(reverse("sign_up_sent")),
        "sign_up_confirm": Call(reverse("sign_up_confirm", args=[signing.dumps(
            {"u": "newcomer", "e": "newcomer@example.org", "d": ""}, salt=account_services._SIGN_UP_SALT,
            compress=True,
        )])),
        "lockouts": Call(reverse("lockouts")),
        "profile": Call(reverse("profile")),
        "profile-save": Call(reverse("profile"), {
            "display_name": "Someone", "affiliation": "", "languages": "English", "expertise": "",
        }),
        "token_create": Call(reverse("token_create"), {"expiry_days": ""}),
    }
    if which == "token_revoke":
        key = AuthToken.objects.create(user=user)[0].token_key if user else "deadbeef"
        return Call(reverse("token_revoke", args=[key]), {})
    return calls[which]


def _sender(users, method: str, call: Call | None, *, per_role: Callable[[Any], Call] | None = None):
    """Each role's request, from a fresh client; `per_role(user)` builds a call that names the role's
    own objects (inside the role's savepoint, so they are rolled back with its request)."""

    def send(role):
        user = users[role]
        client = signed_in(user)
        request = per_role(user) if per_role is not None else call
        for value in (request.data or {}).values():
            if hasattr(value, "seek"):
                value.seek(0)  # the same upload for every role: the previous request read it
        if method == "GET":
            return client.get(request.url)
        return client.post(request.url, request.data or {})

    return send


def _status_of(response) -> Any:
    """What the tables hold: LOGIN for a redirect to the login page, R for any other redirect."""
    if response.status_code == 302:
        return LOGIN if response.url.startswith(reverse("login")) else R
    return response.status_code


def _private(expected: dict[str, Any]) -> dict[str, Any]:
    """The private project's table: the public one, but invisible (404) to non-members."""
    return {**expected, ANON: 404, OUT: 404}


def _tables(routes, visibility: str, *, private=_private) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each request of a table (by `which`): its method and the answers expected on a project of
    this visibility."""
    return {which: (method, expected if visibility == "public" else private(expected))
            for _name, method, which, expected in routes}


@pytest.fixture
def projects_by_visibility(project, private_project):
    return {"public": project, "private": private_project}


# Each test builds one world (for a visibility, and for the project routes a project state) and
# checks every route on it: each role's request is rolled back, so every route sees it as built.


def _check_all(tables, calls, *, users, visibility, also=None) -> None:
    __tracebackhide__ = True
    check_routes({
        f"{method} {which}": functools.partial(
            check_matrix, route=f"{method} {which}", visibility=visibility, expected=table,
            send=_sender(users, method, calls[which]), status_of=_status_of,
            also=functools.partial(also, which) if also is not None else None,
        )
        for which, (method, table) in tables.items()
    })


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("world", ["plain", "drafted", "submitted"])
def test_project_route(users, lead, projects_by_visibility, world, visibility):
    tables = {which: cell for which, cell in _tables(PROJECT_ROUTES, visibility).items()
              if _project_world(which) == world}
    calls = _project_calls(next(iter(tables)), projects_by_visibility[visibility], lead)
    _check_all(tables, calls, users=users, visibility=visibility)


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_dataset_route(users, lead, projects_by_visibility, dataset_commits, visibility):
    calls = _dataset_calls(projects_by_visibility[visibility], lead, dataset_commits)

    def also(which, role, response, expected):
        if expected == 200 and which == "download" and b"".join(response.streaming_content)[:2] != b"PK":
            return "the download is not a zip archive"
        if expected == 200 and which == "item_content" and response["Content-Type"] != "image/png":
            return f"the item's content is {response['Content-Type']}, not image/png"
        return None

    _check_all(_tables(DATASET_ROUTES, visibility), calls, users=users, visibility=visibility, also=also)


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_campaign_route(users, lead, projects_by_visibility, dataset_commits, visibility):
    calls = _campaign_calls(projects_by_visibility[visibility], lead, dataset_commits, users)

    def also(which, role, response, expected):
        if expected == 200 and which == "c-item-content" and response["Content-Type"] != "image/png":
            return f"the item's content is {response['Content-Type']}, not image/png"
        return None

    _check_all(_tables(CAMPAIGN_ROUTES, visibility), calls, users=users, visibility=visibility, also=also)


def test_an_annotator_not_assigned_to_a_campaign_finds_none_of_its_pages(
    client, users, project, lead, dataset_commits
):
    from projects.models import Membership, Role
    from tests.factories import UserFactory

    stranger = UserFactory()
    Membership.objects.create(project=project, user=stranger, role=Role.ANNOTATOR)
    client.force_login(stranger)
    for which in ("c-detail", "c-label", "c-guideline", "c-mine", "c-item-content", "c-agreement", "c-adjudicate"):
        call = _campaign_call(which, project, lead, dataset_commits, users)
        assert client.get(call.url).status_code == 404, which
        project.campaigns.all().delete()
        from datasets.models import Dataset

        Dataset.objects.filter(project=project).delete()


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("world", ["queued", "succeeded"])
def test_job_route(users, lead, projects_by_visibility, world, visibility):
    # Job URLs name no project: the same table holds for public and private projects.
    tables = {which: cell for which, cell in _tables(JOB_ROUTES, visibility, private=lambda e: e).items()
              if (which == "job_cancel") == (world == "queued")}
    calls = _job_calls(world, projects_by_visibility[visibility], lead)

    def also(which, role, response, expected):
        if expected == 200 and which == "job_download":
            document = json.loads(b"".join(response.streaming_content))
            if document["charter"]["slug"] != projects_by_visibility[visibility].slug:
                return f"the export is of {document['charter']['slug']}"
        return None

    _check_all(tables, calls, users=users, visibility=visibility, also=also)


def test_global_route(users):
    # token_revoke names the role's own token: built per role, inside its savepoint.
    check_routes({
        f"{method} {which}": functools.partial(
            check_matrix, route=f"{method} {which}", visibility=None, expected=table, status_of=_status_of,
            send=_sender(users, method, None, per_role=functools.partial(_global_call, which)),
        )
        for _name, method, which, table in GLOBAL_ROUTES
    })


# --- What the successful actions did ---------------------------------------------------------


def test_lead_approving_a_submitted_deliverable_is_redirected_with_success(client, project, lead):
    call = _project_call("transition-approve", project, lead)
    client.force_login(lead)
    response = client.post(call.url, call.data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("projects:deliverable", args=[project.slug, "data_document"])
    # Read off the page: the approved page also renders the frozen evidence, whose templates have
    # contexts of their own.
    shown = re.findall(r'<li class="message [^"]*">([^<]*)</li>', response.content.decode())
    assert shown == ["Approved."]
    assert project.deliverables.get(kind="data_document").state == DeliverableState.APPROVED


def test_engineer_cannot_approve_and_the_state_is_unchanged(client, project, lead, engineer):
    call = _project_call("transition-approve", project, lead)
    client.force_login(engineer)
    assert client.post(call.url, call.data).status_code == 403
    assert project.deliverables.get(kind="data_document").state == DeliverableState.SUBMITTED


@pytest.mark.parametrize("role", [OUT, VIEW, ANNO])
def test_refused_charter_edit_changes_nothing(client, users, project, lead, role):
    call = _project_call("charter_edit-save", project, lead)
    client.force_login(users[role])
    assert client.post(call.url, call.data).status_code == 403
    project.refresh_from_db()
    assert project.summary != "Changed by the matrix"


@pytest.mark.parametrize(
    "route",
    ["target_delete", "value_delete", "member_remove", "member_unlock", "export", "deliverable_transition", "job_cancel"],
)
def test_action_routes_refuse_get(client, project, lead, route):
    client.force_login(lead)
    if route == "job_cancel":
        url = reverse("projects:job_cancel", args=[_succeeded_job(project, lead).pk])
    elif route == "deliverable_transition":
        url = reverse("projects:deliverable_transition", args=[project.slug, "data_document"])
    elif route in ("target_delete", "value_delete", "member_remove", "member_unlock"):
        url = reverse(f"projects:{route}", args=[project.slug, 1])
    else:
        url = reverse(f"projects:{route}", args=[project.slug])
    assert client.get(url).status_code == 405


# --- The directory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sees_private"),
    [(ANON, False), (OUT, False), (VIEW, True), (ANNO, True), (ENG, True), (LEAD, True)],
)
def test_private_project_is_listed_only_for_its_members(client, users, project, private_project, role, sees_private):
    if users[role] is not None:
        client.force_login(users[role])
    for params in ({}, {"q": "secret"}, {"stage": "project_page"}):
        response = client.get(reverse("projects:directory"), params)
        assert response.status_code == 200
        listed = {p.slug for p in response.context["page"].object_list}
        assert (private_project.slug in listed) is sees_private
        assert (b"Secret forms" in response.content) is sees_private
    assert project.slug in {p.slug for p in client.get(reverse("projects:directory")).context["page"].object_list}


def test_token_revoke_of_someone_elses_token_changes_nothing(client, users):
    other_key = AuthToken.objects.create(user=users[LEAD])[0].token_key
    client.force_login(users[ENG])
    response = client.post(reverse("token_revoke", args=[other_key]), follow=True)
    assert response.status_code == 200
    assert AuthToken.objects.filter(token_key=other_key).exists()
    assert b"No such token." in response.content
