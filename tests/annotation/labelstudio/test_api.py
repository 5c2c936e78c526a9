"""The Label Studio routes of the campaign API: who may export, import and sync (on a public and
a private project), the export, imports as a JSON body and as a file, bad bodies (400 / 413, nothing
written), and starting a sync (202 with the job). The schema describes them."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from datasets.annotation import services
from datasets.annotation.labelstudio import exports
from datasets.annotation.models import Annotation
from prakriya.jobs.models import Job
from tests.annotation.labelstudio.test_interop import hand_written_export
from tests.api import client_for, fast_password_hashing  # noqa: F401
from tests.fixtures_annotation import make_version, more_annotators

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "viewer", "stranger", "annotator", "engineer", "lead")
MANAGERS = frozenset({"engineer", "lead"})
CAMPAIGN_SEERS = frozenset({"annotator", "engineer", "lead"})
PROJECT_MEMBERS = frozenset({"viewer", "stranger", "annotator", "engineer", "lead"})
ROUTES = [("GET", "export", 200), ("POST", "import", 200), ("POST", "sync", 202)]


def url(campaign, name: str, query: str = "") -> str:
    return f"/api/projects/{campaign.project.slug}/campaigns/{campaign.slug}/labelstudio/{name}/{query}"


@pytest.fixture
def configured(settings):
    # Nothing listens there; starting a sync only writes the job (no worker runs in these tests).
    settings.PRAKRIYA_LABEL_STUDIO_URL = "http://127.0.0.1:9"
    settings.PRAKRIYA_LABEL_STUDIO_API_KEY = "a-key"


def expected_status(method: str, ok: int, role: str, visibility: str) -> int:
    if method != "GET" and role == "anonymous":
        return 401
    if visibility == "private" and role not in PROJECT_MEMBERS:
        return 404
    if role not in CAMPAIGN_SEERS:
        return 404
    return ok if role in MANAGERS else 403


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "name", "ok"), ROUTES, ids=[f"{m} {n}" for m, n, _ in ROUTES])
def test_only_the_lead_and_engineers_export_import_and_sync(project, private_project, lead, engineer, annotator,
                                                            users, configured, visibility, role, method, name, ok):
    where = project if visibility == "public" else private_project
    stranger = more_annotators(where, 1)[0]
    campaign = services.campaign_create(
        version=make_version(where), actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive"}, {"name": "negative"}, {"name": "neutral"}], overlap=2,
        annotators=[annotator, engineer, lead],
    )
    client = client_for({**users, "stranger": stranger}[role])
    if method == "GET":
        response = client.get(url(campaign, name))
    else:
        response = client.post(url(campaign, name), hand_written_export() if name == "import" else None,
                               format="json")
    assert response.status_code == expected_status(method, ok, role, visibility), response.content[:500]
    if response.status_code != 200 or name != "import":
        assert not Annotation.objects.exists()


def test_the_export_is_the_campaign_in_label_studio_json(campaign, engineer, annotator):
    task = services.task_claim(campaign=campaign, annotator=annotator)
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="positive")
    client = client_for(engineer)

    response = client.get(url(campaign, "export"))

    assert response.status_code == 200
    assert response.json() == exports.labelstudio_export(campaign=campaign, actor=engineer)
    assert len(response.json()) == 12
    assert client.get(url(campaign, "export", "?offsets=utf16")).status_code == 200
    bad = client.get(url(campaign, "export", "?offsets=bytes"))
    assert bad.status_code == 400 and "offsets" in bad.json()["errors"]


def test_an_export_posted_as_json_is_imported(campaign, lead):
    response = client_for(lead).post(url(campaign, "import"), hand_written_export(), format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"], body["skipped_count"]) == (4, 0, 0, 7)
    assert body["unknown_annotators"] == ["Label Studio user #77 has no email here", "nobody@example.org",
                                          "viewer@example.org"]
    assert body["unknown_items"] == ["task 3: no item of this campaign has its key or its text"]
    assert Annotation.objects.filter(campaign=campaign, tool="labelstudio").count() == 4


def test_an_export_sent_as_a_file_is_imported(campaign, lead):
    upload = SimpleUploadedFile("export.json", json.dumps(hand_written_export()).encode(), "application/json")

    response = client_for(lead).post(url(campaign, "import", "?offsets=codepoints"), {"file": upload},
                                     format="multipart")

    assert response.status_code == 200 and response.json()["created"] == 4


@pytest.mark.parametrize(("body", "fmt", "query", "message"), [
    ({"tasks": []}, "json", "", "A Label Studio JSON export is a list of tasks"),
    ("[]", "json", "", "A Label Studio JSON export is a list of tasks"),
    ([], "json", "?offsets=bytes", "offsets"),
    ([{"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "label", "type": "choices",
                                                            "value": {"choices": ["joy"]}}]}]}],
     "json", "", "'joy' is not a label of this campaign"),
    ([{"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "label", "type": "choices",
                                                            "value": {"choices": ["positive"]}}],
                                                "lead_time": -4}]}], "json", "",
     r"task[0].annotations[0].lead_time: expected a number of seconds"),
    ({"other": "x"}, "multipart", "", "Send the Label Studio export as a file named `file`."),
    ({"file": SimpleUploadedFile("x.json", b"\x00\xff not json")}, "multipart", "", "not UTF-8"),
])
def test_bad_bodies_are_400s_with_the_reason_and_write_nothing(campaign, lead, body, fmt, query, message):
    response = client_for(lead).post(url(campaign, "import", query), body, format=fmt)
    assert response.status_code == 400
    assert message in json.dumps(response.json(), ensure_ascii=False)
    assert not Annotation.objects.exists()


def test_a_malformed_or_oversized_json_body_is_refused(campaign, lead, settings):
    client = client_for(lead)
    broken = client.post(url(campaign, "import"), b"[{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["detail"].startswith("Malformed request body")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = client.post(url(campaign, "import"), [{"data": {"text": "x" * 2000}}], format="json")
    assert big.status_code == 413
    assert not Annotation.objects.exists()


def test_importing_into_a_closed_campaign_is_a_400(campaign, lead):
    services.campaign_close(campaign=campaign, actor=lead)
    response = client_for(lead).post(url(campaign, "import"), hand_written_export(), format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"] == ["This campaign is closed: reopen it to import annotations."]


def test_sync_answers_202_with_the_job_and_the_same_job_while_it_waits(campaign, engineer, lead, configured):
    first = client_for(engineer).post(url(campaign, "sync"))
    again = client_for(lead).post(url(campaign, "sync"))

    job = Job.objects.get(kind="annotation_labelstudio_sync")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] == job.pk
    assert first["Location"].endswith(f"/api/jobs/{job.pk}/")


def test_sync_without_a_configured_server_is_a_400(campaign, lead, settings):
    settings.PRAKRIYA_LABEL_STUDIO_URL = ""
    response = client_for(lead).post(url(campaign, "sync"))
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"] == [
        "Label Studio sync is not configured (set PRAKRIYA_LABEL_STUDIO_URL and PRAKRIYA_LABEL_STUDIO_API_KEY)."]
    assert not Job.objects.exists()


def test_the_schema_describes_the_label_studio_routes(tmp_path):
    paths = yaml.safe_load(client_for(None).get("/api/schema/").content)["paths"]
    base = "/api/projects/{project_slug}/campaigns/{campaign_slug}/labelstudio"
    assert set(paths[f"{base}/export/"]) == {"get"}
    assert set(paths[f"{base}/import/"]) == {"post"}
    assert set(paths[f"{base}/sync/"]) == {"post"}
    content = paths[f"{base}/import/"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    assert "202" in paths[f"{base}/sync/"]["post"]["responses"]
    # The whole schema stays valid and free of warnings with these routes in it.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
