"""The human baseline reaches the baselines deliverable's page, with its size, method and the
too-few notice; the annotators' names only for the lead and engineers."""

import pytest
from django.urls import reverse

from datasets.annotation import services
from tests.fixtures_annotation import more_annotators

pytestmark = pytest.mark.django_db


def test_baselines_deliverable_shows_the_human_baseline_names_only_to_managers(client, campaign, project, lead, viewer):
    a, b = more_annotators(project, 2)
    services.campaign_update(campaign=campaign, actor=lead, annotators=[a, b])
    items = list(campaign.items.order_by("position")[:2])
    for item, (va, vb) in zip(items, [("positive", "negative"), ("neutral", "neutral")], strict=True):
        services.annotation_submit(campaign=campaign, annotator=a, campaign_item=item, value=va, tool="api")
        services.annotation_submit(campaign=campaign, annotator=b, campaign_item=item, value=vb, tool="api")
    services.gold_sample_draw(campaign=campaign, actor=lead, size=2, seed=0)  # both overlapped items
    for item in items:
        item.refresh_from_db()
        services.gold_set(campaign=campaign, actor=lead, campaign_item=item,
                          value="positive" if item == items[0] else "neutral")
    url = reverse("projects:deliverable", args=[project.slug, "baselines"])

    client.force_login(lead)
    page = client.get(url).content.decode()
    assert "Human baseline" in page and "Sentiment" in page
    assert ">0.750<" in page  # a: 2/2, b: 1/2
    assert "2 items · <span" in page and "gold sample" in page
    assert "Too few items to compare with models: 2, fewer than 30." in page
    assert a.username in page and b.username in page

    client.force_login(viewer)
    page = client.get(url).content.decode()
    assert ">0.750<" in page
    assert a.username not in page and b.username not in page
