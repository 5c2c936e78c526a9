"""The Label Studio pages of a campaign with the Django test client: who gets what, the export
download, importing a file (its result on the page; bad files are 400s with the reason and write
nothing), starting a sync, and the panel on the campaign's page."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasets.annotation import services
from datasets.annotation.labelstudio import exports
from datasets.annotation.models import Annotation
from prakriya.jobs.models import Job
from tests.annotation.labelstudio.test_interop import hand_written_export
from tests.conftest import ROLES
from tests.fixtures_annotation import make_version, more_annotators

pytestmark = pytest.mark.django_db

LOGIN = "login"
ALL_ROLES = (*ROLES, "stranger")  # stranger: an annotator of the project not assigned to the campaign


def row(anonymous, outsider, viewer, annotator, stranger, engineer, lead) -> dict:
    return dict(zip(("anonymous", "outsider", "viewer", "annotator", "stranger", "engineer", "lead"),
                    (anonymous, outsider, viewer, annotator, stranger, engineer, lead), strict=True))


MANAGE_PAGE = row(LOGIN, 404, 404, 403, 404, 200, 200)
MANAGE_ACTION = row(LOGIN, 404, 404, 403, 404, 302, 302)


@pytest.fixture
def people(users, project):
    return {**users, "stranger": more_annotators(project, 1)[0]}


@pytest.fixture
def configured(settings):
    # Nothing listens there; starting a sync only writes the job (no worker runs in these tests).
    settings.PRAKRIYA_LABEL_STUDIO_URL = "http://127.0.0.1:9"
    settings.PRAKRIYA_LABEL_STUDIO_API_KEY = "a-key"


def urls(campaign) -> dict[str, str]:
    args = [campaign.project.slug, campaign.slug]
    return {name: reverse(f"annotation:labelstudio_{name}", args=args) for name in ("export", "import", "sync")}


def export_file(data, name: str = "project-1.json") -> SimpleUploadedFile:
    body = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return SimpleUploadedFile(name, body, content_type="application/json")


def status_of(response) -> object:
    if response.status_code == 302 and response.url.startswith("/accounts/login/"):
        return LOGIN
    return response.status_code


ROUTES = [("export", "GET", MANAGE_PAGE), ("import", "GET", MANAGE_PAGE), ("import", "POST", row(
    LOGIN, 404, 404, 403, 404, 200, 200)), ("sync", "POST", MANAGE_ACTION)]


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize(("name", "method", "expected"), ROUTES, ids=[f"{r[0]}-{r[1]}" for r in ROUTES])
def test_every_page_gives_each_role_what_it_may_have(client, campaign, people, configured, role, name, method,
                                                     expected):
    if people[role] is not None:
        client.force_login(people[role])
    url = urls(campaign)[name]
    if method == "GET":
        response = client.get(url)
    elif name == "import":
        response = client.post(url, {"file": export_file(hand_written_export()), "offsets": "auto"})
    else:
        response = client.post(url)
    assert status_of(response) == expected[role], response.content.decode()[:1000]
    if expected[role] != 200 or name != "import":
        assert not Annotation.objects.exists()


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_a_private_projects_pages_are_404(client, private_project, lead, users, role):
    campaign = services.campaign_create(version=make_version(private_project, slug="notes"), actor=lead,
                                        name="Secret", task_type="single", labels=[{"name": "a"}])
    if users[role] is not None:
        client.force_login(users[role])
    for name, url in urls(campaign).items():
        response = client.post(url) if name == "sync" else client.get(url)
        assert response.status_code == 404, name


def test_the_export_is_a_json_download_of_the_campaign(client, campaign, engineer, annotator):
    task = services.task_claim(campaign=campaign, annotator=annotator)
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="neutral",
                               seconds_spent=6)
    client.force_login(engineer)

    response = client.get(urls(campaign)["export"])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="digits-sentiment-labelstudio.json"'
    tasks = json.loads(response.content)
    assert tasks == exports.labelstudio_export(campaign=campaign, actor=engineer)
    assert "राम ने दिल्ली में किताब पढ़ी।" in response.content.decode()  # UTF-8, not \u escapes
    (annotated,) = [t for t in tasks if t["annotations"]]
    assert annotated["data"]["prakriya_item"] == task.item.key
    assert annotated["annotations"][0]["lead_time"] == 6


def test_an_unknown_offsets_unit_is_a_400(client, campaign, lead):
    client.force_login(lead)
    response = client.get(urls(campaign)["export"] + "?offsets=bytes")
    assert response.status_code == 400
    assert "codepoints or utf16" in response.content.decode()


def test_the_page_offers_import_export_and_says_sync_is_not_configured(client, campaign, lead, settings):
    settings.PRAKRIYA_LABEL_STUDIO_URL = ""
    client.force_login(lead)
    html = client.get(urls(campaign)["import"]).content.decode()
    assert 'enctype="multipart/form-data"' in html and 'name="offsets"' in html
    assert "Label Studio sync is not configured on this server" in html
    assert urls(campaign)["export"] in html
    assert "Sync now" not in html


def test_importing_a_file_shows_what_happened_to_every_annotation(client, campaign, lead, annotator):
    client.force_login(lead)

    response = client.post(urls(campaign)["import"], {"file": export_file(hand_written_export()), "offsets": "auto"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="created">4<' in html and 'data-testid="skipped">7<' in html
    assert "nobody@example.org" in html and "viewer@example.org" in html
    assert "task 3: no item of this campaign has its key or its text" in html
    assert "This item already has all the annotators it needs." in html
    assert Annotation.objects.filter(campaign=campaign, tool="labelstudio").count() == 4


@pytest.mark.parametrize(("body", "message"), [
    (b"\x89PNG\r\n\x1a\n", "not UTF-8"),
    (b'{"tasks": []}', "a list of tasks"),
    (b'[{"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "label", "type": "choices", '
     b'"value": {"choices": ["joy"]}}]}]}]', "&#x27;joy&#x27; is not a label of this campaign"),
])
def test_a_bad_file_is_a_400_with_the_reason_and_writes_nothing(client, campaign, lead, body, message):
    client.force_login(lead)
    response = client.post(urls(campaign)["import"], {"file": export_file(body), "offsets": "auto"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This is not a Label Studio JSON export of this campaign" in html and message in html
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("data", [{}, {"offsets": "auto"}, {"offsets": "bytes"}])
def test_a_form_without_a_file_or_with_a_bad_choice_is_a_400(client, campaign, lead, data):
    client.force_login(lead)
    if data.get("offsets") == "bytes":
        data = {**data, "file": export_file([])}
    response = client.post(urls(campaign)["import"], data)
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()


def test_a_file_over_the_upload_cap_is_refused_before_it_is_read(client, campaign, lead, settings):
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 1024
    client.force_login(lead)
    response = client.post(urls(campaign)["import"], {"file": export_file(b"[" + b" " * 4096 + b"]")})
    assert response.status_code == 400
    assert "uploads are limited to" in response.content.decode()


def test_importing_into_a_closed_campaign_is_refused(client, campaign, lead):
    services.campaign_close(campaign=campaign, actor=lead)
    client.force_login(lead)
    response = client.post(urls(campaign)["import"], {"file": export_file(hand_written_export()), "offsets": "auto"})
    assert response.status_code == 400
    assert "This campaign is closed: reopen it to import annotations." in response.content.decode()
    assert not Annotation.objects.exists()


def test_sync_starts_a_job_and_follows_it_on_its_page(client, campaign, engineer, configured):
    client.force_login(engineer)

    response = client.post(urls(campaign)["sync"])

    job = Job.objects.get(kind="annotation_labelstudio_sync")
    assert response.status_code == 302 and response.url == reverse("projects:job", args=[job.pk])
    assert job.target_id == campaign.pk and job.created_by == engineer
    page = client.get(urls(campaign)["import"]).content.decode()
    assert f"#{job.pk}" in page and "Items pushed" in page and "not created yet" in page


def test_sync_without_a_server_says_so_on_the_page(client, campaign, lead, settings):
    settings.PRAKRIYA_LABEL_STUDIO_URL = ""
    client.force_login(lead)

    response = client.post(urls(campaign)["sync"], follow=True)

    assert response.redirect_chain == [(urls(campaign)["import"], 302)]
    assert "No sync started: Label Studio sync is not configured (set PRAKRIYA_LABEL_STUDIO_URL and " \
           "PRAKRIYA_LABEL_STUDIO_API_KEY)." in response.content.decode()
    assert not Job.objects.exists()


def test_sync_refuses_get(client, campaign, lead):
    client.force_login(lead)
    assert client.get(urls(campaign)["sync"]).status_code == 405


def test_the_campaign_page_shows_the_label_studio_panel_to_managers_only(client, campaign, lead, annotator):
    detail = reverse("annotation:detail", args=[campaign.project.slug, campaign.slug])
    client.force_login(lead)
    html = client.get(detail).content.decode()
    assert 'data-testid="labelstudio-panel"' in html and urls(campaign)["import"] in html
    client.force_login(annotator)
    html = client.get(detail).content.decode()
    assert 'data-testid="labelstudio-panel"' not in html and urls(campaign)["import"] not in html
