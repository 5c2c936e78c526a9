"""An annotator labels in Chromium: ten items with the keyboard only, the guideline one key away,
a skip, a lost claim (409), the empty queue, an edit from "My annotations" and the guideline page;
spans selected in Devanagari, Urdu (right to left) and a text with emoji, stored as Unicode
code-point offsets, on the labelling page and on the edit page; multi-label keys that toggle, and
other annotators' labels in a campaign that is not blind."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from datasets.annotation import services
from datasets.annotation.models import Annotation, CampaignItem, Claim, Skip
from datasets.models import Dataset, DatasetVersion, Item, VersionState
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
KEYS = {"p": "positive", "1": "positive", "n": "negative", "2": "negative", "u": "neutral", "3": "neutral"}

# Finds `word` in the item's text nodes: selects it, and returns where it is on the screen.
SELECT_WORD = """(arg) => {
  const [word, where] = Array.isArray(arg) ? arg : [arg, '#labelling [data-role="text"]'];
  const box = document.querySelector(where);
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(word);
    if (at === -1) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + word.length);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const rect = range.getBoundingClientRect();
    return {left: rect.left, right: rect.right, y: rect.y + rect.height / 2};
  }
  return null;
}"""


def drag_across(page: Page, word: str, *, rtl: bool = False) -> None:
    """Selects the word with the mouse: pressed at the edge where the word starts (the right one
    in right-to-left text), dragged to where it ends."""
    rect = page.evaluate(SELECT_WORD, word)
    page.evaluate("window.getSelection().removeAllRanges()")
    left, right = rect["left"] + 1, rect["right"] - 1
    start, end = (right, left) if rtl else (left, right)
    page.mouse.move(start, rect["y"])
    page.mouse.down()
    page.mouse.move(end, rect["y"], steps=8)
    page.mouse.up()
    assert page.evaluate("window.getSelection().toString().trim()") == word


def label_path(campaign) -> str:
    return f"/projects/{campaign.project.slug}/campaigns/{campaign.slug}/label/"


def shown_key(page: Page) -> str:
    return page.locator('#labelling [data-role="key"]').inner_text()


def fits(page: Page, locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], box


def test_annotator_labels_ten_items_with_the_keyboard_reads_the_guideline_and_skips(new_page, campaign,
                                                                                     annotator, engineer):
    page = new_page(viewport=LAPTOP)
    login(page, "annotator", next_path=label_path(campaign))
    page.goto(label_path(campaign))
    status = page.locator('#labelling [data-role="status"]')
    mine = page.locator('#labelling [data-role="mine"]')
    expect(page.locator('#labelling [data-role="text"]')).to_be_visible()

    # On a laptop screen the item, every label and the submit button show without scrolling.
    fits(page, page.locator('#labelling [data-role="item"]'))
    for button in page.locator(".label-button").all():
        fits(page, button)
    fits(page, page.get_by_role("button", name="Submit"))

    expected = {}
    presses = ["p", "2", "u", "1", "n", "3", "p", "n", "u", "2"]
    for done, press in enumerate(presses, start=1):
        key = shown_key(page)
        expected[key] = KEYS[press]
        page.keyboard.press(press)
        expect(page.locator(f'.label-button[data-label="{KEYS[press]}"]')).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("Enter")
        expect(mine).to_have_text(str(done))
        assert shown_key(page) != key
        expect(page.locator(".label-button[aria-pressed=true]")).to_have_count(0)
    expect(status).to_have_text("Saved.")

    annotations = Annotation.objects.filter(campaign=campaign, annotator=annotator).select_related("campaign_item__item")
    assert {a.campaign_item.item.key: a.value for a in annotations} == expected
    assert all(a.tool == "platform" and a.seconds_spent > 0 for a in annotations)
    assert annotations.count() == 10

    # The guideline, one key away, and away again.
    panel = page.locator("#guideline-panel")
    expect(panel).to_be_hidden()
    page.keyboard.press("g")
    expect(panel).to_be_visible()
    expect(panel.locator('.guideline-label[data-label="positive"] .definition')).to_have_text("The writer is pleased.")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    # Skip the eleventh item.
    skipped = shown_key(page)
    page.keyboard.press("s")
    expect(status).to_have_text("Skipped.")
    assert shown_key(page) != skipped
    assert Skip.objects.filter(campaign_item__item__key=skipped, annotator=annotator).exists()

    # The last item is lost meanwhile: the claim expired and others filled its slots. The 409 is
    # explained and the page moves on, here to the end of the queue.
    last = shown_key(page)
    item = CampaignItem.objects.get(campaign=campaign, item__key=last)
    Claim.objects.filter(annotator=annotator).delete()
    CampaignItem.objects.filter(pk=item.pk).update(taken=item.capacity)
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("already has all the annotators it needs")
    expect(status).to_contain_text("Moved on")
    empty = page.get_by_test_id("queue-empty")
    expect(empty).to_contain_text("Nothing left for you in this campaign")
    expect(page.locator("#workspace")).to_be_hidden()
    assert Annotation.objects.filter(annotator=annotator).count() == 10
    empty.get_by_role("link", name="Review my annotations").click()
    rows = page.get_by_test_id("my-annotations").locator("tbody tr")
    expect(rows).to_have_count(10)

    # Second thoughts on the latest one: edited from "My annotations".
    latest = Annotation.objects.filter(annotator=annotator).latest("updated_at")
    other = "neutral" if latest.value != "neutral" else "positive"
    expect(rows.first).to_contain_text(latest.campaign_item.item.key)
    rows.first.get_by_role("link", name="Edit").click()
    expect(page.get_by_test_id("saved-value")).to_have_text(latest.value)
    page.get_by_label(other).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Annotation saved."])
    expect(rows.first.locator('[data-role="value"]')).to_have_text(other)
    latest.refresh_from_db()
    assert latest.value == other and latest.revision == 2

    # The guideline page: the current version and its change log.
    page.get_by_role("link", name="Guideline", exact=True).click()
    expect(page.get_by_role("heading", name="Version 1")).to_be_visible()
    expect(page.get_by_test_id("guideline-current")).to_contain_text("The writer is pleased.")
    expect(page.get_by_test_id("guideline-changes")).to_contain_text("First version")


TEXTS = [
    "राम ने दिल्ली में किताब पढ़ी।",
    "یہ کراچی میں ایک جملہ ہے۔",
    "Loved it 😀 will order again 😀 from Paris",
]


@pytest.fixture
def span_campaign(project, lead, annotator):
    dataset = Dataset.objects.create(project=project, slug="places", name="Places", kind="text")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY,
                                            git_tag="places-v1", git_commit="0" * 40, item_count=len(TEXTS))
    Item.objects.bulk_create(
        Item(version=version, key=f"t{i}", content_hash=f"{i:064d}", size_bytes=len(t.encode()), text=t)
        for i, t in enumerate(TEXTS)
    )
    return services.campaign_create(
        version=version, actor=lead, name="Places", task_type="span", order="sequential", annotators=[annotator],
        labels=[{"name": "PERSON", "shortcut": "e"}, {"name": "PLACE", "shortcut": "l"}],
    )


def test_spans_in_devanagari_urdu_and_emoji_text_are_stored_as_code_points(new_page, span_campaign, annotator):
    page = new_page(viewport=LAPTOP)
    login(page, "annotator", next_path=label_path(span_campaign))
    page.goto(label_path(span_campaign))
    box = page.locator('#labelling [data-role="text"]')
    marks = box.locator("mark.span")

    # Devanagari: the mouse selects the word, as a person would; the label key marks it.
    expect(box).to_have_text(TEXTS[0])
    drag_across(page, "दिल्ली")
    page.keyboard.press("l")
    expect(marks).to_have_text(["दिल्ली"])
    # A wrong span is removed by clicking it, then marked again with the right label.
    page.evaluate(SELECT_WORD, "राम")
    page.keyboard.press("l")
    expect(marks).to_have_text(["राम", "दिल्ली"])
    marks.first.click()
    expect(marks).to_have_text(["दिल्ली"])
    page.evaluate(SELECT_WORD, "राम")
    page.keyboard.press("e")
    expect(marks).to_have_count(2)
    expect(box).to_have_text(TEXTS[0])  # the marks add no characters
    page.keyboard.press("Enter")

    # Urdu, right to left: the page lays it out so, marked or not.
    expect(box).to_have_text(TEXTS[1])
    assert box.evaluate("el => getComputedStyle(el).direction") == "rtl"
    drag_across(page, "کراچی", rtl=True)
    page.keyboard.press("2")
    expect(marks).to_have_text(["کراچی"])
    assert box.evaluate("el => getComputedStyle(el).direction") == "rtl"
    mark_box, text_box = marks.first.bounding_box(), box.bounding_box()
    # "یہ" comes first, at the right edge: the city is left of it, not at the start on the left.
    assert mark_box["x"] > text_box["x"] + text_box["width"] / 2
    page.keyboard.press("Enter")

    # Emoji take two UTF-16 units each but one code point.
    expect(box).to_have_text(TEXTS[2])
    page.evaluate(SELECT_WORD, "Paris")
    page.keyboard.press("l")
    expect(marks).to_have_text(["Paris"])
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    # A span added afterwards on the edit page, after the emoji too.
    page.get_by_test_id("queue-empty").get_by_role("link", name="Review my annotations").click()
    row = page.get_by_test_id("my-annotations").locator("tbody tr", has_text="Paris")
    expect(row.locator('[data-role="value"]')).to_have_text("PLACE: Paris")
    row.get_by_role("link", name="Edit").click()
    editor = page.locator('#span-editor [data-role="text"]')
    expect(editor.locator("mark.span")).to_have_text(["Paris"])
    page.evaluate(SELECT_WORD, ["order", '#span-editor [data-role="text"]'])
    page.locator("#span-editor").get_by_role("button", name="PERSON").click()
    expect(editor.locator("mark.span")).to_have_text(["order", "Paris"])
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Annotation saved."])

    stored = {a.campaign_item.item.text: a.value
              for a in Annotation.objects.filter(annotator=annotator).select_related("campaign_item__item")}

    def span(text: str, word: str, label: str) -> dict:
        return {"start": text.index(word), "end": text.index(word) + len(word), "label": label}

    assert stored[TEXTS[0]] == [span(TEXTS[0], "राम", "PERSON"), span(TEXTS[0], "दिल्ली", "PLACE")]
    assert stored[TEXTS[1]] == [span(TEXTS[1], "کراچی", "PLACE")]
    assert stored[TEXTS[2]] == [span(TEXTS[2], "order", "PERSON"), span(TEXTS[2], "Paris", "PLACE")]
    assert TEXTS[2].index("Paris") == TEXTS[2].encode("utf-16-le").index("Paris".encode("utf-16-le")) // 2 - 2


def test_multi_label_keys_toggle_and_open_campaigns_show_other_labels(new_page, project, lead, engineer, annotator):
    version = DatasetVersion.objects.create(
        dataset=Dataset.objects.create(project=project, slug="tags", name="Tags", kind="text"), number=1,
        state=VersionState.READY, git_tag="tags-v1", git_commit="0" * 40, item_count=2,
    )
    Item.objects.bulk_create(
        Item(version=version, key=f"m{i}", content_hash=f"{i:064d}", size_bytes=len(t.encode()), text=t)
        for i, t in enumerate(["Late and broken.", "Fast, cheap and friendly."])
    )
    campaign = services.campaign_create(
        version=version, actor=lead, name="Tags", task_type="multi", order="sequential", overlap=2, blind=False,
        labels=[{"name": "late"}, {"name": "cheap"}, {"name": "broken"}], annotators=[annotator, engineer],
    )
    second = CampaignItem.objects.get(campaign=campaign, item__key="m1")
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=second, value=["cheap"])

    page = new_page(viewport=LAPTOP)
    login(page, "annotator", next_path=label_path(campaign))
    page.goto(label_path(campaign))
    others = page.locator('#labelling [data-role="others"]')
    expect(page.locator('#labelling [data-role="key"]')).to_have_text("m0")
    expect(others).to_be_hidden()
    page.keyboard.press("3")
    page.keyboard.press("1")
    pressed = page.locator(".label-button[aria-pressed=true]")
    expect(pressed).to_have_count(2)
    assert pressed.evaluate_all("buttons => buttons.map(b => b.dataset.label)") == ["late", "broken"]
    page.keyboard.press("Enter")

    # The next item comes with what the engineer said (the campaign is not blind).
    expect(page.locator('#labelling [data-role="key"]')).to_have_text("m1")
    expect(others).to_be_visible()
    expect(others.locator("li")).to_have_text(["Engineer: cheap"])
    page.keyboard.press("2")
    page.keyboard.press("2")  # on, then off again: nothing applies
    expect(page.locator(".label-button[aria-pressed=true]")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    stored = {a.campaign_item.item.key: a.value
              for a in Annotation.objects.filter(annotator=annotator).select_related("campaign_item__item")}
    assert stored == {"m0": ["late", "broken"], "m1": []}
