"""The sealed test split's labels never leave the platform: not through any page, API response,
header, download, archive member or export, for any role, the lead included.

Every label in the datasets below is a unique string, so a sealed item's label can appear in a
response only if that response leaks it. The data is built through the API as a team would
(upload, split, derive a new version that relabels a sealed item, profile, data document), then
every GET route the URL configuration has is filled in with every project, dataset, version,
item and job there is, and crawled as every role, following the links each page holds. New
pages and routes are crawled without changing this test; a route whose URL parameters the crawl
cannot fill fails the test until it is taught them (FILLERS below).
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import re
import tarfile
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from PIL import Image

from datasets.models import Dataset, Item, SealedItem
from deployments.models import BatchPrediction
from experiments.models import Run
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects import services as project_services
from projects.models import Deliverable, Membership, ProjectRevision, Target, ValueEstimate
from tests.api import add_primary_target, client_for, fast_password_hashing  # noqa: F401
from tests.conftest import ROLES
from tests.factories import UserFactory

P = "/api/projects/digits"
MAX_URLS_PER_IDENTITY = 4000
# Never crawled: the admin is the operators' database console (no role of a project reaches it),
# static files are the platform's own code, and logging out would end the crawl's session.
SKIPPED_PREFIXES = ("/admin/", "/static/", "/accounts/logout/", "/api/auth/logout/")
# Routes whose parameters are not the project's data: a token to revoke (POST only) and a signed
# sign-up link (a page about the newcomer's own username and e-mail address).
UNFILLABLE_OK = {"token_revoke", "sign_up_confirm"}


@pytest.fixture(autouse=True)
def _stores(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.PRAKRIYA_DVC_ROOT = tmp_path / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(tmp_path / "dvc-remote")


def _run_jobs() -> None:
    while True:
        queued = list(Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True))
        if not queued:
            break
        for job_id in queued:
            job_execute(job_id)
    failed = list(Job.objects.exclude(state=JobState.SUCCEEDED).values_list("kind", "message", "log"))
    assert not failed, failed


def _label() -> str:
    return f"LBL{uuid.uuid4().hex}"


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6 + seed % 5, 6), (seed * 7 % 256, seed * 13 % 256, seed * 29 % 256)).save(out, "PNG")
    return out.getvalue()


def _started(response) -> None:
    assert response.status_code in (201, 202), response.content
    _run_jobs()


# --- The data ----------------------------------------------------------------------------------


@dataclass
class World:
    secrets: set[str]
    visible_labels: set[str]
    datasets: list[Dataset]
    export_job: Job
    campaigns: list = field(default_factory=list)


def _build_world(project, users) -> World:
    engineer = client_for(users["engineer"])
    # Tabular: feature values are numbers, every label unique.
    engineer.post(f"{P}/datasets/", {"slug": "forms", "name": "Forms", "kind": "tabular"}, format="json")
    rows = "\n".join(f"{i},{i * 3 % 17},{_label()}" for i in range(40))
    csv = SimpleUploadedFile("forms.csv", f"height,width,label\n{rows}\n".encode())
    _started(engineer.post(f"{P}/datasets/forms/versions/upload/", {"file": csv}, format="multipart"))
    # Text: the label column holds unique strings, and so do the labels of each text's spans
    # (pre-annotated entities: spans are labels too); the texts never contain them.
    engineer.post(f"{P}/datasets/", {"slug": "notes", "name": "Notes", "kind": "text"}, format="json")
    lines = "\n".join(
        json.dumps({"text": f"note number {i}", "label": _label(), "spans": [_span(0, 4), _span(12, 12 + len(str(i)))]})
        for i in range(30)
    )
    notes = SimpleUploadedFile("notes.jsonl", f"{lines}\n".encode())
    _started(engineer.post(f"{P}/datasets/notes/versions/upload/", {"file": notes}, format="multipart"))
    # Images in class folders named by their (unique) label: original names carry labels.
    engineer.post(f"{P}/datasets/", {"slug": "shapes", "name": "Shapes", "kind": "image"}, format="json")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(30):
            archive.writestr(f"{_label()}/scan-{i}.png", _png(i))
    shapes = SimpleUploadedFile("shapes.zip", buffer.getvalue())
    _started(engineer.post(f"{P}/datasets/shapes/versions/upload/", {"file": shapes}, format="multipart"))

    # Every label and span label as uploaded, before anything is sealed: the sealed ones are the
    # secrets (the items give theirs up when sealed).
    uploaded_labels = {
        (dataset, key): (label, _span_labels_of(spans))
        for dataset, key, label, spans in Item.objects.filter(version__dataset__project=project)
        .values_list("version__dataset__slug", "key", "label", "spans")
    }
    # A campaign made before the split, with every item labelled: the split must take the sealed
    # ones out of it.
    early = _early_campaign(project, users)

    for slug in ("forms", "notes", "shapes"):
        body = {"seed": 11, "train": 0.6, "validation": 0.2, "test": 0.2}
        _started(engineer.post(f"{P}/datasets/{slug}/versions/1/split/", body, format="json"))
    assert not early.items.filter(item__key__in=SealedItem.objects.values("key")).exists()
    # Its labels are released as a new version after the split: the release must leave every
    # sealed label as it is (none, in the files and the items).
    from datasets.annotation import release

    release.release_start(campaign=early, actor=users["lead"])
    _run_jobs()

    # A new version relabels a visible item; relabelling, removing or respanning a sealed one is
    # refused (a diff against it would tell the sealed label).
    sealed_keys = set(SealedItem.objects.filter(dataset__slug="forms").values_list("key", flat=True))
    keys = list(
        Item.objects.filter(version__dataset__slug="forms", version__number=1).values_list("key", flat=True)
    )
    sealed_key = sorted(sealed_keys)[0]
    visible_key, removed_key = [k for k in keys if k not in sealed_keys][:2]
    refused = engineer.post(
        f"{P}/datasets/forms/versions/1/derive/", {"relabel": {sealed_key: _label()}}, format="json"
    )
    assert refused.status_code == 400, refused.content
    body = {"remove_keys": [removed_key], "relabel": {visible_key: _label()}}
    _started(engineer.post(f"{P}/datasets/forms/versions/1/derive/", body, format="json"))
    _started(
        engineer.post(
            f"{P}/datasets/shapes/versions/1/derive/", {"remove_keys": [], "relabel": {}}, format="json"
        )
    )
    # New spans for a visible text item; a sealed one's are refused.
    sealed_notes = sorted(SealedItem.objects.filter(dataset__slug="notes").values_list("key", flat=True))
    visible_note = sorted(
        set(Item.objects.filter(version__dataset__slug="notes").values_list("key", flat=True)) - set(sealed_notes)
    )[0]
    refused = engineer.post(
        f"{P}/datasets/notes/versions/1/derive/", {"respan": {sealed_notes[0]: [_span(5, 11)]}}, format="json"
    )
    assert refused.status_code == 400, refused.content
    body = {"respan": {visible_note: [_span(5, 11)]}}
    _started(engineer.post(f"{P}/datasets/notes/versions/1/derive/", body, format="json"))
    _started(engineer.post(f"{P}/datasets/forms/versions/2/profile/"))
    # A real training run on the version whose test part is sealed: its pages, curves, params,
    # tags and artifacts (the validation predictions name items and labels) are crawled too.
    body = {"dataset": "forms", "version": 1, "trainer": "logistic_regression", "config": {"seed": 3}}
    _started(engineer.post(f"{P}/runs/", body, format="json"))

    document = {
        "version": 2,
        "collection_mode": "collected",
        "collection_description": "Forms.",
        "representativeness": "All offices.",
        "semantics": "Box sizes.",
        "labelling_process": "Clerks.",
        "quality_assessment": "Fine.",
    }
    assert engineer.put(f"{P}/datasets/forms/document/", document, format="json").status_code == 201
    add_primary_target(project, users["lead"])
    project_services.value_estimate_save(
        project=project, actor=users["lead"], quantity="minutes", current=4, expected=1
    )
    export_job = project_services.project_export_start(project=project, actor=users["lead"])
    _run_jobs()
    campaigns = _campaigns(project, users)

    secrets: set[str] = set()
    span_secrets: set[str] = set()
    for dataset, key in SealedItem.objects.values_list("dataset__slug", "key"):
        label, span_labels = uploaded_labels[(dataset, key)]
        secrets |= {label} if label else set()
        span_secrets |= span_labels
    secrets |= span_secrets
    # Nothing the platform keeps in the open holds them any more.
    assert not Item.objects.filter(key__in=SealedItem.objects.values("key"), label__isnull=False).exists()
    visible = (
        set(
            Item.objects.filter(version__dataset__project=project)
            .exclude(label=None)
            .values_list("label", flat=True)
        )
        | _span_labels(Item.objects.filter(version__dataset__project=project))
    ) - secrets
    assert len(secrets) >= 3 * 6, "every dataset's test part is sealed"
    assert len(span_secrets) >= 2 * 6, "the sealed texts' spans"
    assert not any(s in v or v in s for s in secrets for v in visible)
    return World(
        secrets=secrets,
        visible_labels=visible,
        datasets=list(project.datasets.all()),
        export_job=Job.objects.get(pk=export_job.pk),
        campaigns=campaigns,
    )


def _span(start: int, end: int) -> dict:
    return {"start": start, "end": end, "label": _label()}


def _span_labels_of(spans: list[dict] | None) -> set[str]:
    return {span["label"] for span in spans or []}


def _early_campaign(project, users):
    """A campaign over the images before they are split, every item labelled by two people, one
    adjudicated and used as a guideline example, a live claim."""
    from datasets.annotation import services as annotation_services

    version = Dataset.objects.get(project=project, slug="shapes").versions.get(number=1)
    campaign = annotation_services.campaign_create(
        version=version, actor=users["lead"], name="Early look", slug="early-look", task_type="single",
        labels=[{"name": "good"}, {"name": "bad"}], overlap=3, order="sequential",
        annotators=[users["annotator"], users["engineer"], users["lead"]],
    )
    # Both say "good": every item gets a strict majority, so a release has labels to write.
    for role, value in (("annotator", "good"), ("engineer", "good")):
        while (task := annotation_services.task_claim(campaign=campaign, annotator=users[role])) is not None:
            annotation_services.annotation_submit(
                campaign=campaign, annotator=users[role], campaign_item=task, value=value
            )
    annotation_services.task_claim(campaign=campaign, annotator=users["lead"])
    last = campaign.items.order_by("position").last()
    annotation_services.gold_set(campaign=campaign, actor=users["lead"], campaign_item=last, value="good")
    annotation_services.guideline_add_example(campaign=campaign, actor=users["lead"], campaign_item=last, label="good")
    return campaign


def _span_labels(items) -> set[str]:
    return {span["label"] for spans in items.exclude(spans__isnull=True).values_list("spans", flat=True) for span in spans}


def _campaigns(project, users) -> list:
    """A text and an image campaign over versions with sealed test items, with annotations, a
    gold label and a second guideline version, so every campaign page and route has content."""
    from datasets.annotation import services as annotation_services

    engineer = client_for(users["engineer"])
    made = []
    for dataset in ("notes", "shapes"):
        body = {
            "dataset": dataset, "version": 1, "name": f"Label {dataset}", "slug": f"label-{dataset}",
            "task_type": "single", "labels": [{"name": "good"}, {"name": "bad"}], "overlap": 2,
            "annotators": ["annotator", "engineer", "lead"],
        }
        response = engineer.post(f"{P}/campaigns/", body, format="json")
        assert response.status_code == 201, response.content
        campaign = project.campaigns.get(slug=f"label-{dataset}")
        for role, value in (("annotator", "good"), ("engineer", "bad")):
            task = annotation_services.task_claim(campaign=campaign, annotator=users[role])
            annotation_services.annotation_submit(
                campaign=campaign, annotator=users[role], campaign_item=task, value=value
            )
        annotation_services.task_claim(campaign=campaign, annotator=users["annotator"])  # a live claim
        first = campaign.items.order_by("position").first()
        annotation_services.gold_set(campaign=campaign, actor=users["lead"], campaign_item=first, value="good")
        annotation_services.guideline_add_example(
            campaign=campaign, actor=users["lead"], campaign_item=first, label="good"
        )
        made.append(campaign)
    return made


# --- Filling in the URL configuration ----------------------------------------------------------


def _patterns(
    resolver: URLResolver, prefix: str = "", names: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """(regex of the full path, namespaced name) for every route."""
    for pattern in resolver.url_patterns:
        regex = pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            namespace = (pattern.namespace,) if pattern.namespace else ()
            yield from _patterns(pattern, prefix + regex.rstrip("$").removesuffix(r"\Z"), names + namespace)
        elif isinstance(pattern, URLPattern):
            name = ":".join([*names, pattern.name or "?"])
            yield prefix + regex.rstrip("$").removesuffix(r"\Z"), name


def _groups(regex: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each named group, nested parentheses included."""
    found = []
    for match in re.finditer(r"\(\?P<(\w+)>", regex):
        depth, i = 0, match.start()
        while i < len(regex):
            if regex[i] == "\\":
                i += 2
                continue
            if regex[i] == "(":
                depth += 1
            elif regex[i] == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        found.append((match.start(), i + 1, match.group(1)))
    return found


def _fillers(project, world: World) -> list[dict[str, list[str]]]:
    """Values for the URL parameters, as scopes that belong together: the project's own, then
    one per dataset (its slug, its versions, its items' keys) so no dataset is asked for the
    versions or items of another."""
    ids = set(Job.objects.filter(project=project).values_list("pk", flat=True))
    ids |= set(Membership.objects.filter(project=project).values_list("pk", flat=True))
    ids |= set(Target.objects.filter(project=project).values_list("pk", flat=True))
    ids |= set(ValueEstimate.objects.filter(project=project).values_list("pk", flat=True))
    ids_text = [str(i) for i in sorted(ids)]
    revisions = sorted(ProjectRevision.objects.filter(project=project).values_list("number", flat=True))
    runs = sorted(Run.objects.filter(project=project).values_list("mlflow_run_id", flat=True))
    common = {
        "slug": [project.slug],
        "project_slug": [project.slug],
        "kind": list(Deliverable.objects.filter(project=project).values_list("kind", flat=True)),
        "number": [str(n) for n in revisions],
        "run_id": runs,
        # The crawl's world deploys nothing: a deployment's routes are asked for one that does not
        # exist (a 404 carries no label). Their own tests cover what a deployment shows.
        "deployment_slug": sorted(project.deployments.values_list("slug", flat=True)) or ["no-such-deployment"],
        # So are a deployment's batch predictions (deployments/batch/): asked for by their ids, or one
        # that does not exist. tests/deployments/test_batch_predict.py checks what their files hold.
        "batch_id": [str(pk) for pk in sorted(
            BatchPrediction.objects.filter(project=project).values_list("pk", flat=True))] or ["1"],
        **{name: ids_text for name in ("pk", "id", "job_id", "target_id", "estimate_id", "membership_id", "entry_id")},
    }
    scopes = [common]
    for dataset in world.datasets:
        numbers = [str(n) for n in sorted(dataset.versions.values_list("number", flat=True))]
        sealed = sorted(set(SealedItem.objects.filter(dataset=dataset).values_list("key", flat=True)))
        others = sorted(
            set(
                Item.objects.filter(version__dataset=dataset)
                .exclude(key__in=sealed)
                .values_list("key", flat=True)
            )
        )
        # Three sealed items' pages (the first, a middle and the last key: one item's pages are
        # made by the same code as another's, and every sealed label is looked for in every
        # answer, lists, diffs and downloads included), and a few visible items' pages too.
        middle = sealed[len(sealed) // 2:][:1]
        keys = sorted(set(sealed[:1] + middle + sealed[-1:])) + others[:2] + others[-2:]
        scopes.append(
            {
                **common,
                "ds": [dataset.slug],
                "dataset_slug": [dataset.slug],
                "number": numbers,
                "version_number": numbers,
                "other": numbers,
                "key": keys,
            }
        )
    for campaign in world.campaigns:
        items = [str(i) for i in campaign.items.order_by("position").values_list("pk", flat=True)[:3]]
        annotations = [str(i) for i in campaign.annotations.values_list("pk", flat=True)]
        scopes.append(
            {
                **common,
                "campaign": [campaign.slug],
                "campaign_slug": [campaign.slug],
                "item": items,
                "annotation": annotations,
                "campaign_item_id": items,
                # A campaign's own routes take its items' and annotations' ids.
                "pk": sorted(set(items) | set(annotations)),
            }
        )
    return scopes


def _seed_urls(scopes: list[dict[str, list[str]]]) -> tuple[list[str], list[str]]:
    """Every route with its parameters filled every way the data allows; and the routes that
    could not be filled."""
    urls, unfillable = set(), []
    for regex, name in _patterns(get_resolver()):
        path = "/" + regex
        if path.startswith(SKIPPED_PREFIXES):
            continue
        groups = _groups(regex)
        names = {g for _, _, g in groups}
        # A dataset's or a campaign's scope fills only the routes that name a dataset or a
        # campaign; the project's own routes are filled by the project's scope (the first).
        fitting = [
            scope for scope in scopes
            if names <= set(scope) and (scope is scopes[0] or names & (set(scope) - set(scopes[0])))
        ]
        if not fitting:
            if name.split(":")[-1] not in UNFILLABLE_OK:
                known = set().union(*scopes)
                unfillable.append(f"{name} {path} needs {sorted({g for _, _, g in groups} - known)}")
            continue
        for scope in fitting:
            for values in itertools.product(*(scope[g] for _, _, g in groups)):
                out, last = "", 0
                for (start, end, _), value in zip(groups, values, strict=True):
                    out += regex[last:start] + value
                    last = end
                out += regex[last:]
                candidate = "/" + re.sub(r"\\(.)", r"\1", out)
                try:
                    resolve(candidate)
                except Resolver404:
                    continue  # a value the route's converter refuses (a slug where digits go)
                urls.add(candidate)
    return sorted(urls), unfillable


# --- Crawling ----------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if not value:
                continue
            # data-* attributes also hold element ids and settings: only addresses are followed.
            if name in ("href", "src", "action", "poster") or (
                name.startswith("data-") and value.startswith(("/", "http://", "https://"))
            ):
                self.links.append(value)


def _links(base: str, response, body: bytes) -> list[str]:
    content_type = response.get("Content-Type", "")
    found: list[str] = []
    if "html" in content_type:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        found += parser.links
    elif "json" in content_type:
        found += re.findall(r'"((?:https?://testserver)?/[^"\s]*)"', body.decode("utf-8", "replace"))
    if response.get("Location"):
        found.append(response["Location"])
    out = []
    for link in found:
        parts = urlsplit(urljoin("http://testserver" + base, link))
        if parts.netloc != "testserver" or not parts.path.startswith("/"):
            continue
        # "?next=" (where to go after logging in) makes a new address of every page: dropped.
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "next"])
        out.append(parts.path + (f"?{query}" if query else ""))
    return out


def _unpacked(name: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """The bytes themselves, and every member of an archive among them (recursively)."""
    yield name, data
    if depth > 3:
        return
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                yield f"{name}!{info.filename}", info.filename.encode()
                yield from _unpacked(f"{name}!{info.filename}", archive.read(info), depth + 1)
    elif data[:2] == b"\x1f\x8b":
        yield from _unpacked(f"{name}!gunzip", gzip.decompress(data), depth + 1)
    elif len(data) > 262 and data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                yield f"{name}!{member.name}", member.name.encode()
                if member.isfile():
                    yield from _unpacked(
                        f"{name}!{member.name}", archive.extractfile(member).read(), depth + 1
                    )


@dataclass
class Crawl:
    leaks: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    ok_routes: set[str] = field(default_factory=set)
    visible_seen: set[str] = field(default_factory=set)
    archives: int = 0
    truncated: bool = False


def _check(crawl: Crawl, where: str, data: bytes, world: World, needles: list[tuple[str, bytes]]) -> None:
    if data[:4] == b"PK\x03\x04":
        crawl.archives += 1
    for name, blob in _unpacked(where, data):
        for secret, needle in needles:
            if needle in blob:
                crawl.leaks.append(f"{secret} in {name}")
        if len(crawl.visible_seen) < 5:
            crawl.visible_seen |= {v for v in world.visible_labels if v.encode() in blob}


def crawl_as(
    client: Client, seeds: list[str], world: World, *, accept: str = "", follow: bool = True
) -> Crawl:
    crawl = Crawl()
    needles = [(s, s.encode()) for s in world.secrets]
    queue, seen = list(seeds), set(seeds)
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    while queue:
        url = queue.pop(0)
        if len(seen) > MAX_URLS_PER_IDENTITY:
            crawl.truncated = True
            break
        response = client.get(url, **headers)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        try:
            name = resolve(urlsplit(url).path).view_name
        except Resolver404:
            name = "?"
        crawl.statuses[(name, response.status_code)] += 1
        if response.status_code == 200:
            crawl.ok_routes.add(name)
        header_text = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
        _check(crawl, f"GET {url} (headers)", header_text, world, needles)
        _check(crawl, f"GET {url}", body, world, needles)
        for link in _links(url, response, body) if follow else ():
            if link not in seen and not link.startswith(SKIPPED_PREFIXES):
                seen.add(link)
                queue.append(link)
    return crawl


def _stored_bytes(project, dataset, tag: str, dest) -> bytes:
    from datasets import storage

    storage.materialize_version(project_slug=project.slug, dataset_slug=dataset.slug, tag=tag, dest=dest)
    return b"".join(p.read_bytes() + str(p).encode() for p in sorted(dest.rglob("*")) if p.is_file())


def _repository_bytes(project, settings) -> bytes:
    """Every git object of the project's repository (all refs and the history) and every object of
    its DVC cache and remote."""
    import subprocess

    from datasets import storage

    repo = storage.repo_path(project.slug)
    found = [
        subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True
        ).stdout
    ]
    for root in (Path(settings.PRAKRIYA_DVC_REMOTE_URL), repo / ".dvc" / "cache"):
        found += [path.read_bytes() for path in root.rglob("*") if path.is_file()]
    return b"".join(found)


def _identities(users) -> dict[str, object]:
    admin = UserFactory(username="operator")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    return {**{role: users[role] for role in ROLES}, "superuser": admin}


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# Pages the lead must have read for the crawl to count: the ones that show items and labels.
MUST_REACH = {
    "experiments:runs",
    "experiments:run",
    "experiments:run_curves",
    "api:run-list",
    "api:run-detail",
    "api:run-curves",
    "api:campaign-list",
    "api:campaign-detail",
    "api:campaign-annotation-list",
    "api:campaign-annotation-detail",
    "api:campaign-item-list",
    "api:campaign-labels",
    "api:campaign-disagreements",
    "api:campaign-guideline",
    "api:dataset-list",
    "api:dataset-detail",
    "api:dataset-document",
    "api:dataset-version-list",
    "api:dataset-version-detail",
    "api:dataset-version-profile",
    "api:dataset-version-split",
    "api:dataset-version-diff",
    "api:dataset-item-list",
    "api:dataset-item-detail",
    "api:dataset-item-content",
    "api:job-list",
    "api:job-detail",
    "api:project-timeline-list",
    "datasets:list",
    "datasets:detail",
    "datasets:version",
    "datasets:items",
    "datasets:item_content",
    "datasets:download",
    "datasets:diff",
    "datasets:document",
    "projects:detail",
    "projects:deliverable",
    "projects:timeline",
    "projects:job",
    "projects:job_status",
    "projects:job_download",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)
@pytest.mark.slow
def test_no_sealed_label_leaves_through_any_page_api_download_or_export(project, users, tmp_path, settings):
    world = _build_world(project, users)
    fillers = _fillers(project, world)
    seeds, unfillable = _seed_urls(fillers)
    assert not unfillable, (
        "The sealed-label crawl cannot fill these routes' parameters; teach _fillers() about them: "
        + "; ".join(unfillable)
    )

    # The repository holds no sealed label: not at any version's tag, not in the history, not in
    # the DVC cache or remote (whoever can clone it gets none). It does hold the visible ones.
    stored = b"".join(
        _stored_bytes(project, dataset, version.git_tag, tmp_path / f"{dataset.slug}-{version.number}")
        for dataset in world.datasets
        for version in dataset.versions.all()
    )
    everything = stored + _repository_bytes(project, settings)
    leaks = [s for s in world.secrets if s.encode() in everything]
    assert not leaks, f"the repository holds sealed labels: {leaks[:5]}"
    assert all(v.encode() in stored for v in world.visible_labels)

    report = {}
    for identity, user in _identities(users).items():
        client = _client(user)
        crawl = crawl_as(client, seeds, world)
        report[identity] = crawl
        assert not crawl.truncated, f"{identity}: more than {MAX_URLS_PER_IDENTITY} URLs; raise the bound"
        assert not crawl.leaks, f"{identity} saw sealed labels:\n" + "\n".join(sorted(set(crawl.leaks))[:50])

    # The browsable API builds its forms from serializers, shown to those who may write: as the lead.
    api_seeds = [u for u in seeds if u.startswith("/api/") and not u.startswith("/api/schema")]
    crawl = crawl_as(_client(users["lead"]), api_seeds, world, accept="text/html", follow=False)
    assert not crawl.leaks, "the lead (browsable API) saw sealed labels:\n" + "\n".join(crawl.leaks[:50])
    assert "api:dataset-item-list" in crawl.ok_routes

    lead = report["lead"]
    missing = MUST_REACH - lead.ok_routes
    assert not missing, (
        f"the crawl never read these as the lead: {sorted(missing)}\n{sorted(lead.statuses.items())}"
    )
    assert lead.archives >= 1, "no archive was downloaded and opened"
    assert lead.visible_seen, "the crawl never saw even the visible labels: it checks nothing"
    assert report["anonymous"].ok_routes >= {"datasets:items", "api:dataset-item-list"}
    assert not any(status >= 500 for crawl in report.values() for (_, status) in crawl.statuses), {
        identity: [k for k in crawl.statuses if k[1] >= 500] for identity, crawl in report.items()
    }

    # Nor does anything the training run stored in MLflow: params, tags, metric names, artifacts
    # (the validation predictions name items and their labels: validation ones only).
    from experiments import mlflow_store

    run = Run.objects.get(project=project)
    stored_run = mlflow_store.client().get_run(run.mlflow_run_id)
    texts = [json.dumps(stored_run.data.to_dictionary(), default=str).encode()]
    pending = [None]
    while pending:
        for entry in mlflow_store.list_artifacts(run_id=run.mlflow_run_id, path=pending.pop()):
            if entry.is_dir:
                pending.append(entry.path)
                continue
            local = mlflow_store.download_artifact(run_id=run.mlflow_run_id, path=entry.path, dst_path=tmp_path)
            texts.append(Path(local).read_bytes())
    assert len(texts) >= 2, "the run stored no artifact: the check below checks nothing"
    assert any(v.encode() in b"".join(texts) for v in world.visible_labels), "predictions hold no label at all"
    leaks = [s for s in world.secrets for t in texts if s.encode() in t]
    assert not leaks, f"the training run's MLflow record holds sealed labels: {leaks[:5]}"

    # The project export (a JSON file written by a job) holds no sealed label either.
    from projects.export import export_path

    exported = export_path(project.slug, world.export_job.pk).read_bytes()
    assert json.loads(exported)["format"]
    leaks = [s for s in world.secrets if s.encode() in exported]
    assert not leaks, f"the project export holds sealed labels: {leaks[:5]}"


@pytest.mark.django_db
def test_the_crawl_fills_every_route_it_knows(project, users, lead):
    """Guards the crawler itself: every route resolves once filled in."""
    from datasets import services as dataset_services

    dataset = dataset_services.dataset_create(
        project=project, actor=lead, slug="forms", name="Forms", kind="tabular"
    )
    world = World(secrets=set(), visible_labels=set(), datasets=[dataset], export_job=None)
    Run.objects.create(project=project, mlflow_run_id="0123456789abcdef0123456789abcdef", source="external")
    scopes = _fillers(project, world)
    scopes[1].update(number=["1"], version_number=["1"], other=["1"], key=["r000001"])
    scopes.append({**scopes[0], "campaign": ["c"], "campaign_slug": ["c"], "item": ["1"], "annotation": ["1"],
                   "campaign_item_id": ["1"]})
    seeds, unfillable = _seed_urls(scopes)
    assert not unfillable, unfillable
    assert "/api/projects/digits/datasets/forms/versions/1/items/r000001/content/" in seeds
    assert "/projects/digits/data/forms/v1/items/" in seeds
    assert "/projects/digits/data/forms/v1/download/" in seeds
    assert "/projects/digits/deliverables/data_document/" in seeds


@pytest.mark.django_db
def test_a_sealed_items_spans_are_withheld_by_selector_serializer_archive_diff_and_pages(project, users):
    """Spans are labels: the unit-level guarantee under the crawl above, for each reader of them."""
    from datasets import archive, selectors
    from datasets.models import DatasetVersion
    from datasets.serializers import DiffSerializer, ItemSerializer
    from tests.fixtures_annotation import make_version

    v1 = make_version(project, slug="notes", count=3)
    sealed_key, visible_key, plain_key = (i.key for i in v1.items.order_by("key"))
    canary, canary2, seen = _label(), _label(), _label()
    Item.objects.filter(version=v1, key=sealed_key).update(spans=[{"start": 0, "end": 3, "label": canary}])
    Item.objects.filter(version=v1, key=visible_key).update(spans=[{"start": 0, "end": 5, "label": seen}])
    SealedItem.objects.create(dataset=v1.dataset, key=sealed_key)
    v2 = DatasetVersion.objects.create(dataset=v1.dataset, number=2, state="ready", git_tag="notes-v2", parent=v1)
    for item in v1.items.all():
        item.pk, item.version = None, v2
        item.spans = [{"start": 1, "end": 3, "label": canary2}] if item.key == sealed_key else item.spans
        item.spans = [] if item.key == visible_key else item.spans
        item.save()
    v2.item_count = 3
    v2.save()

    sealed = selectors.item_get(version=v1, key=sealed_key)
    visible = selectors.item_get(version=v1, key=visible_key)
    assert sealed.sealed and sealed.spans is None and sealed.label is None
    assert Item.objects.get(version=v1, key=sealed_key).spans  # withheld, not missing
    assert visible.spans == [{"start": 0, "end": 5, "label": seen}]
    assert selectors.item_get(version=v1, key=plain_key).spans is None
    page = selectors.item_page(version=v1, offset=0, limit=10)
    data = ItemSerializer(page, many=True).data
    assert {row["key"]: row["spans"] for row in data} == {
        sealed_key: None, visible_key: [{"start": 0, "end": 5, "label": seen}], plain_key: None,
    }

    with archive.build_archive(version=v1) as handle, zipfile.ZipFile(handle) as zf:
        member = zf.read("notes-v1/texts.jsonl")
        readme = zf.read("notes-v1/README.txt").decode()
    records = {r["_item"]: r for r in map(json.loads, member.decode().splitlines())}
    assert "spans" not in records[sealed_key] and records[sealed_key]["label"] is None
    assert records[visible_key]["spans"] == [{"start": 0, "end": 5, "label": seen}]
    assert "spans" not in records[plain_key]
    assert canary.encode() not in member and "labels and spans are left blank" in readme

    diff = selectors.version_diff(old=v1, new=v2)
    assert diff["span_changes"] == [
        {"key": visible_key, "before": [{"start": 0, "end": 5, "label": seen}], "after": []}
    ]
    assert diff["sealed_items"] == 1 and diff["changed"] == []
    shown = json.dumps(DiffSerializer({"old": 1, "new": 2, **diff}).data)
    assert canary not in shown and canary2 not in shown and seen in shown

    for identity in ("anonymous", "lead"):
        client = _client(users[identity])
        base = f"/projects/{project.slug}/data/notes"
        pages = [f"{base}/v1/items/", f"{base}/v2/items/", f"{base}/v2/diff/1/", f"{base}/v1/download/",
                 f"{P}/datasets/notes/versions/1/items/", f"{P}/datasets/notes/versions/1/diff/2/"]
        for url in pages:
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert response.status_code == 200, (identity, url)
            assert canary.encode() not in body and canary2.encode() not in body, (identity, url)
        html = client.get(f"{base}/v2/diff/1/").content.decode()
        assert 'data-testid="span-changes"' in html and "1 item of the sealed test split is in both versions" in html
        assert f"<td dir=\"auto\">{seen} 0–5</td>" in html and '<td dir="auto">no spans</td>' in html
