"""The annotator's pages with the Django test client: the labelling page, the guideline, my
annotations and their edit form (with its stale-revision 409), and the image bytes of a
campaign item; who may open each."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from django.urls import reverse
from PIL import Image

from datasets.annotation import selectors, services
from datasets.annotation.models import Annotation, CampaignItem, Claim
from datasets.models import Dataset, DatasetVersion, Item, VersionState
from tests.factories import UserFactory
from tests.fixtures_annotation import make_version

pytestmark = [pytest.mark.django_db]


def url(name: str, campaign, *args) -> str:
    return reverse(f"annotation:{name}", args=[campaign.project.slug, campaign.slug, *args])


def text(response) -> str:
    return response.content.decode()


def config(response) -> dict:
    found = re.search(r'<script id="labelling-config" type="application/json">(.*?)</script>', text(response), re.S)
    assert found, "the labelling page embeds no configuration"
    return json.loads(found.group(1))


def only_first_item(campaign) -> CampaignItem:
    """Shrinks the queue to its first item, so who gets what is certain."""
    CampaignItem.objects.filter(campaign=campaign).exclude(position=0).delete()
    return CampaignItem.objects.select_related("item").get(campaign=campaign)


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["label", "guideline", "mine"])
@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("outsider", 404), ("viewer", 404), ("annotator", 200), ("engineer", 200), ("lead", 200)],
)
def test_who_may_open_the_annotator_pages(client, campaign, users, page, role, status):
    if users[role] is not None:
        client.force_login(users[role])
    response = client.get(url(page, campaign))
    assert response.status_code == status
    if role == "anonymous":
        assert response.url.startswith(reverse("login"))


def test_an_annotator_of_the_project_not_assigned_to_the_campaign_gets_404(client, campaign, project):
    from projects.models import Membership, Role

    stranger = UserFactory()
    Membership.objects.create(project=project, user=stranger, role=Role.ANNOTATOR)
    client.force_login(stranger)
    for page in ("label", "guideline", "mine"):
        assert client.get(url(page, campaign)).status_code == 404
    assert not Claim.objects.exists()


def test_private_project_campaigns_are_404_to_outsiders_and_anonymous(client, private_project, lead,
                                                                      annotator, outsider):
    version = make_version(private_project, slug="secret-notes")
    campaign = services.campaign_create(version=version, actor=lead, name="Secret", task_type="single",
                                        labels=[{"name": "a"}], annotators=[annotator])
    # A private project does not exist for those outside it, signed in or not.
    assert client.get(url("label", campaign)).status_code == 404
    client.force_login(outsider)
    assert client.get(url("label", campaign)).status_code == 404
    client.force_login(annotator)
    assert client.get(url("label", campaign)).status_code == 200


def test_a_manager_who_is_not_an_annotator_is_told_so_with_a_403(client, text_version, lead, engineer, annotator):
    campaign = services.campaign_create(version=text_version, actor=lead, name="Only annotator",
                                        task_type="single", labels=[{"name": "a"}], annotators=[annotator])
    client.force_login(engineer)
    response = client.get(url("label", campaign))
    assert response.status_code == 403
    assert "You are not one of this campaign" in text(response)
    assert not Claim.objects.exists()
    assert client.get(url("guideline", campaign)).status_code == 200


def test_pages_refuse_writes_they_do_not_take(client, campaign, annotator):
    client.force_login(annotator)
    for page in ("label", "guideline", "mine"):
        assert client.post(url(page, campaign)).status_code == 405


# --- The labelling page -----------------------------------------------------------------------


def test_label_page_shows_the_claimed_item_its_labels_and_keys(client, campaign, annotator):
    client.force_login(annotator)
    response = client.get(url("label", campaign))
    assert response.status_code == 200
    claim = Claim.objects.get(campaign=campaign, annotator=annotator)
    item = claim.campaign_item.item
    html = text(response)
    assert f'<div class="label-text item-script" data-role="text" dir="auto">{item.text}</div>' in html
    assert 'data-label="positive"' in html and "<kbd>p</kbd><kbd>1</kbd>" in html
    assert "css/annotation.css" in html and "js/labelling.js" in html
    page = config(response)
    assert page["task"]["id"] == claim.campaign_item_id and page["task"]["key"] == item.key
    assert page["task"]["media"] == "text" and page["task"]["image_url"] is None
    assert page["taskType"] == "single" and [label["name"] for label in page["labels"]] == [
        "positive", "negative", "neutral"]
    assert page["urls"]["next"] == f"/api/projects/digits/campaigns/{campaign.slug}/tasks/next/"
    assert page["urls"]["annotation"] == f"/api/projects/digits/campaigns/{campaign.slug}/tasks/{{id}}/annotation/"
    assert page["progress"] == {"mine": 0, "left_for_me": 12, "annotations": 0, "target": 24, "items": 12,
                                "complete_items": 0, "percent": 0.0}
    # The guideline is in the page, one keystroke away.
    assert 'id="guideline-panel"' in html and "The writer is pleased." in html
    # Opening the page again shows the same item (the claim is renewed, not doubled).
    assert config(client.get(url("label", campaign)))["task"]["id"] == claim.campaign_item_id
    assert Claim.objects.filter(annotator=annotator).count() == 1


def test_label_page_says_when_nothing_is_left(client, campaign, annotator):
    while (task := services.task_claim(campaign=campaign, annotator=annotator)) is not None:
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="neutral")
    client.force_login(annotator)
    response = client.get(url("label", campaign))
    assert response.status_code == 200
    assert "Nothing left for you in this campaign" in text(response)
    assert f'href="{url("detail", campaign)}"' in text(response)
    assert config(response)["task"] is None
    assert config(response)["progress"]["mine"] == 12


def test_label_page_of_a_closed_campaign_says_it_is_closed_and_claims_nothing(client, campaign, annotator, lead):
    services.campaign_close(campaign=campaign, actor=lead)
    client.force_login(annotator)
    response = client.get(url("label", campaign))
    assert response.status_code == 200
    assert "This campaign is closed." in text(response)
    assert 'id="labelling-config"' not in text(response)
    assert not Claim.objects.exists()


def _blind_case(project, lead, engineer, annotator, *, blind: bool, slug: str):
    version = make_version(project, slug=slug)
    campaign = services.campaign_create(
        version=version, actor=lead, name=slug, task_type="single", labels=[{"name": "yes"}, {"name": "no"}],
        overlap=3, blind=blind, annotators=[annotator, engineer, lead],
    )
    item = only_first_item(campaign)
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=item, value="no")
    return campaign


def test_non_blind_campaigns_show_the_other_annotators_labels(client, project, lead, engineer, annotator):
    campaign = _blind_case(project, lead, engineer, annotator, blind=False, slug="open-votes")
    client.force_login(annotator)
    response = client.get(url("label", campaign))
    assert config(response)["task"]["others"] == [{"annotator": "Engineer", "value": "no", "display": "no"}]
    assert '<span class="muted">Engineer:</span> <span dir="auto">no</span>' in text(response)


def test_blind_campaigns_never_show_other_labels_even_to_a_manager(client, project, lead, engineer, annotator):
    campaign = _blind_case(project, lead, engineer, annotator, blind=True, slug="blind-votes")
    for user in (annotator, lead):
        client.force_login(user)
        response = client.get(url("label", campaign))
        assert config(response)["task"]["others"] == []
        assert "Engineer:" not in text(response)
        services.annotation_submit(campaign=campaign, annotator=user, campaign_item=campaign.items.get(),
                                   value="yes")


# --- The guideline page -------------------------------------------------------------------------


def test_guideline_page_shows_the_current_version_and_the_change_log_with_its_causes(client, campaign, lead,
                                                                                     annotator, engineer):
    item = campaign.items.select_related("item").order_by("position").first()
    mine = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=item, value="neutral")
    services.guideline_publish(
        campaign=campaign, actor=lead, introduction="Read **the whole** text.",
        definitions={"positive": "Pleased.", "neutral": "Neither pleased nor displeased."},
        change_note="Neutral was unclear.", caused_by=[item.pk],
        examples=[{"label": "neutral", "campaign_item": item.pk, "positive": True, "note": "Flat tone"},
                  {"label": "positive", "campaign_item": item.pk, "positive": False}],
    )
    client.force_login(annotator)
    html = text(client.get(url("guideline", campaign)))
    assert "Version 2" in html and "<strong>the whole</strong>" in html
    assert "Neither pleased nor displeased." in html and "No definition yet." in html  # negative has none
    assert "Is neutral" in html and "Flat tone" in html and "Is not positive" in html
    assert html.count(f'<blockquote class="example-text item-script" dir="auto">{item.item.text}') == 2
    assert "Neutral was unclear." in html and "First version" in html
    # The annotator is led to their own annotation of the disputed item; the lead to adjudication.
    assert f'href="{url("annotation_edit", campaign, mine.pk)}"' in html
    client.force_login(lead)
    assert f'href="{url("adjudicate_item", campaign, item.pk)}"' in text(client.get(url("guideline", campaign)))
    client.force_login(engineer)
    html = text(client.get(url("guideline", campaign)))
    assert "adjudicate" not in html.split("Change log")[1] and f"<code>{item.item.key}</code>" in html


def test_guideline_markdown_is_sanitised(client, campaign, lead, annotator):
    services.guideline_publish(campaign=campaign, actor=lead, introduction="<script>alert(1)</script> [x](javascript:alert(1))",
                               definitions={"positive": "<img src=x onerror=alert(1)>"}, change_note="<b>bold</b>")
    client.force_login(annotator)
    html = text(client.get(url("guideline", campaign)))
    assert "<script>alert" not in html and 'href="javascript' not in html and "<img src=x" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


# --- My annotations and editing them --------------------------------------------------------------


def test_my_annotations_lists_only_mine_paged(client, project, lead, annotator, engineer):
    version = make_version(project, slug="many", count=30)
    campaign = services.campaign_create(version=version, actor=lead, name="Many", task_type="multi",
                                        labels=[{"name": "a"}, {"name": "b"}], overlap=2,
                                        annotators=[annotator, engineer])
    while (task := services.task_claim(campaign=campaign, annotator=annotator)) is not None:
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value=["b", "a"])
    engineer_task = services.task_claim(campaign=campaign, annotator=engineer)
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=engineer_task, value=["a"])
    client.force_login(annotator)
    first = text(client.get(url("mine", campaign)))
    assert "30 annotations by you" in first
    assert first.count('<td dir="auto" data-role="value">a, b</td>') == 25
    assert "Page 1 of 2" in first
    second = text(client.get(url("mine", campaign) + "?page=2"))
    assert second.count("data-annotation=") == 5
    engineer_annotation = Annotation.objects.get(annotator=engineer)
    assert f'data-annotation="{engineer_annotation.pk}"' not in first + second
    assert client.get(url("mine", campaign) + "?page=x").status_code == 200


@pytest.fixture
def my_annotation(campaign, annotator) -> Annotation:
    task = services.task_claim(campaign=campaign, annotator=annotator)
    return services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="positive")


def test_editing_my_annotation_saves_and_bumps_its_revision(client, campaign, annotator, my_annotation):
    client.force_login(annotator)
    edit = url("annotation_edit", campaign, my_annotation.pk)
    form = text(client.get(edit))
    assert '<input type="hidden" name="revision" value="1"' in form
    assert 'value="positive" required id="id_value_0" checked' in form
    response = client.post(edit, {"value": "negative", "revision": "1"})
    assert response.status_code == 302 and response.url == url("mine", campaign)
    my_annotation.refresh_from_db()
    assert my_annotation.value == "negative" and my_annotation.revision == 2


def test_a_stale_edit_is_a_409_that_overwrites_nothing(client, campaign, annotator, my_annotation):
    # Another tab saved since this form was opened at revision 1.
    services.annotation_update(annotation=my_annotation, annotator=annotator, value="neutral", revision=1)
    client.force_login(annotator)
    response = client.post(url("annotation_edit", campaign, my_annotation.pk), {"value": "negative", "revision": "1"})
    assert response.status_code == 409
    assert "changed since you opened it" in text(response)
    my_annotation.refresh_from_db()
    assert my_annotation.value == "neutral" and my_annotation.revision == 2
    # The form now holds what is saved, at the revision it was saved with.
    assert '<input type="hidden" name="revision" value="2"' in text(response)
    assert 'value="neutral" required id="id_value_2" checked' in text(response)


@pytest.mark.parametrize(
    "data",
    [{"value": "happy", "revision": "1"}, {"value": "negative"}, {"value": "negative", "revision": "x"},
     {"value": "negative", "revision": "99999999999999"}, {}],
)
def test_bad_edits_are_400_form_errors(client, campaign, annotator, my_annotation, data):
    client.force_login(annotator)
    response = client.post(url("annotation_edit", campaign, my_annotation.pk), data)
    assert response.status_code == 400
    assert "form-errors" in text(response) or 'class="error"' in text(response)
    if "revision" not in data or data["revision"] != "1":
        assert "reload the page" in text(response)
    my_annotation.refresh_from_db()
    assert my_annotation.value == "positive" and my_annotation.revision == 1


def test_only_my_own_annotations_are_editable(client, campaign, engineer, my_annotation):
    client.force_login(engineer)
    edit = url("annotation_edit", campaign, my_annotation.pk)
    assert client.get(edit).status_code == 404
    assert client.post(edit, {"value": "negative", "revision": "1"}).status_code == 404
    assert client.get(url("annotation_edit", campaign, 2**40)).status_code == 404
    my_annotation.refresh_from_db()
    assert my_annotation.value == "positive"


def test_annotations_of_a_closed_campaign_cannot_be_edited(client, campaign, annotator, lead, my_annotation):
    services.campaign_close(campaign=campaign, actor=lead)
    client.force_login(annotator)
    edit = url("annotation_edit", campaign, my_annotation.pk)
    assert "This campaign is closed" in text(client.get(edit))
    response = client.post(edit, {"value": "negative", "revision": "1"})
    assert response.status_code == 400 and "This campaign is closed." in text(response)
    my_annotation.refresh_from_db()
    assert my_annotation.value == "positive"


def test_span_annotations_are_edited_as_code_point_offsets(client, project, lead, annotator):
    version = make_version(project, slug="ner")
    campaign = services.campaign_create(version=version, actor=lead, name="NER", task_type="span",
                                        labels=[{"name": "PLACE"}, {"name": "THING"}], annotators=[annotator])
    item = CampaignItem.objects.select_related("item").get(campaign=campaign, item__text__startswith="Loved")
    annotation = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=item, value=[])
    client.force_login(annotator)
    edit = url("annotation_edit", campaign, annotation.pk)
    page = text(client.get(edit))
    assert 'id="span-editor"' in page and 'id="span-editor-config"' in page
    word = item.item.text.index("order")
    spans = [{"start": word, "end": word + 5, "label": "THING"}]
    assert client.post(edit, {"value": json.dumps(spans), "revision": "1"}).status_code == 302
    annotation.refresh_from_db()
    assert annotation.value == spans and item.item.text[word:word + 5] == "order"
    for bad in ("[{", json.dumps([{"start": 0, "end": 500, "label": "PLACE"}]), json.dumps({"start": 0})):
        response = client.post(edit, {"value": bad, "revision": "2"})
        assert response.status_code == 400, bad
    annotation.refresh_from_db()
    assert annotation.value == spans and annotation.revision == 2
    assert "THING: order" in text(client.get(url("mine", campaign)))


# --- Image items ------------------------------------------------------------------------------------


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6, 6), (shade, 20, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def image_campaign(project, lead, annotator, tmp_path):
    """A campaign over an image version written to the project's real DVC repository."""
    from datasets import storage
    from datasets.ingest import StagedItem
    from datasets.ingest.layout import write_layout

    source = tmp_path / "shapes-source"
    (source / "images").mkdir(parents=True)
    staged = []
    for i in range(3):
        data = _png(60 * i)
        (source / "images" / f"s{i}.png").write_bytes(data)
        staged.append(StagedItem(key=f"s{i}", label=None, content_hash=hashlib.sha256(data).hexdigest(),
                                 size_bytes=len(data), file_path=f"images/s{i}.png"))
    # One "image" that is not one: its bytes are served as an attachment, never inline.
    (source / "images" / "s3.png").write_bytes(b"<html><script>alert(1)</script></html>")
    staged.append(StagedItem(key="s3", label=None, content_hash="0" * 64, size_bytes=38, file_path="images/s3.png"))
    write_layout(kind="image", root=source, items=staged, columns=[])
    committed = storage.commit_version(project_slug=project.slug, dataset_slug="shapes", number=1,
                                       source_dir=source, message="shapes")
    dataset = Dataset.objects.create(project=project, slug="shapes", name="Shapes", kind="image")
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, state=VersionState.READY, git_tag=committed.tag, git_commit=committed.commit,
        item_count=len(staged),
    )
    Item.objects.bulk_create(
        Item(version=version, key=s.key, content_hash=s.content_hash, size_bytes=s.size_bytes, file_path=s.file_path)
        for s in staged
    )
    return services.campaign_create(version=version, actor=lead, name="Shapes", task_type="single",
                                    labels=[{"name": "round"}, {"name": "square"}], annotators=[annotator],
                                    order="sequential")


def test_image_items_are_served_with_the_type_of_their_bytes(client, image_campaign, annotator, outsider):
    client.force_login(annotator)
    page = config(client.get(url("label", image_campaign)))
    assert page["task"]["media"] == "image" and page["task"]["text"] == ""
    first = CampaignItem.objects.get(campaign=image_campaign, item__key="s0")
    assert page["task"]["image_url"] == url("item_content", image_campaign, first.pk)
    response = client.get(page["task"]["image_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, max-age=86400"
    Image.open(io.BytesIO(response.content)).verify()
    fake = CampaignItem.objects.get(campaign=image_campaign, item__key="s3")
    response = client.get(url("item_content", image_campaign, fake.pk))
    assert response["Content-Type"] == "application/octet-stream" and response["Content-Disposition"] == "attachment"
    assert client.get(url("item_content", image_campaign, 2**40)).status_code == 404
    client.force_login(outsider)
    assert client.get(url("item_content", image_campaign, first.pk)).status_code == 404
    client.logout()
    assert client.get(url("item_content", image_campaign, first.pk)).status_code == 302


def test_a_signed_address_opens_one_image_without_a_session(client, image_campaign, settings):
    """The addresses handed to Label Studio, whose browser has no Prakriya session."""
    from django.core.signing import TimestampSigner

    first = CampaignItem.objects.get(campaign=image_campaign, item__key="s0")
    other = CampaignItem.objects.get(campaign=image_campaign, item__key="s1")
    signature = selectors.item_signature(campaign=image_campaign, campaign_item_id=first.pk)
    response = client.get(url("item_content", image_campaign, first.pk), {"signature": signature})
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    # Only that item, only that campaign, only untampered, only for a while.
    assert client.get(url("item_content", image_campaign, other.pk), {"signature": signature}).status_code == 404
    assert client.get(url("item_content", image_campaign, first.pk), {"signature": signature[:-2] + "xx"}).status_code == 404
    old = TimestampSigner(salt="prakriya.annotation.item-content")
    old.timestamp = lambda: "1"  # signed at the epoch: long expired
    stale = old.sign(f"{image_campaign.pk}:{first.pk}").split(":", 2)[-1]
    assert client.get(url("item_content", image_campaign, first.pk), {"signature": stale}).status_code == 404


def test_text_items_have_no_content_route(client, campaign, annotator):
    client.force_login(annotator)
    item = campaign.items.first()
    assert client.get(url("item_content", campaign, item.pk)).status_code == 404


def test_labels_keyed_by_their_own_digits_get_no_positional_digits(client, text_version, lead, annotator):
    campaign = services.campaign_create(
        version=text_version, actor=lead, name="Digits", task_type="single",
        labels=[{"name": str(d), "shortcut": str(d)} for d in range(10)], annotators=[annotator],
    )
    client.force_login(annotator)
    labels = client.get(url("label", campaign)).context["labels"]
    assert [(label["shortcut"], label["digit"]) for label in labels] == [(str(d), "") for d in range(10)]
