"""The data document's labelling process is filled in from the campaigns: what was labelled, by
how many annotators, under which guideline version, when, how far and how well they agreed (with
its interval) — the figures for every reader of the document, the annotators' names for none."""

from __future__ import annotations

import pytest

from datasets.annotation.agreement.jobs import compute
from datasets.annotation.models import AgreementReport
from tests.fixtures_annotation import bulk_annotations, more_annotators

pytestmark = pytest.mark.django_db

PAGE = "/projects/digits/deliverables/data_document/"


def test_the_data_document_describes_each_campaign_from_its_own_records(client, project, campaign):
    first, second = more_annotators(project, 2)
    campaign.annotators.add(first, second)
    items = list(campaign.items.order_by("pk"))
    # Two annotators on every item; they disagree on two.
    bulk_annotations(campaign, [(item, first, "positive") for item in items]
                     + [(item, second, "negative" if i < 2 else "positive") for i, item in enumerate(items)])
    result = compute(campaign)
    AgreementReport.objects.create(campaign=campaign, annotation_count=result["annotation_count"],
                                   result={"stats": result["stats"], "timeline": result["timeline"]})
    alpha = result["stats"]["krippendorff_alpha"]["nominal"]

    page = client.get(PAGE).content.decode()  # anonymous, on the public project
    panel = page[page.index('data-testid="labelling-process"'):]
    panel = panel[:panel.index("</section>")]
    assert "Sentiment" in panel and "Reviews v1" in panel
    assert "5 · 2 per item · blind" in panel
    assert f"{len(items)} of {len(items)}" in panel and f">{2 * len(items)}<" in panel
    assert f"α {alpha['value']:.3f}" in panel
    low, high = alpha["ci"]
    percent = result["stats"]["percent_agreement"]["value"] * 100
    assert f"[{low:.3f}, {high:.3f}]" in panel and f"{percent:.1f}% agree" in panel
    for person in (first, second):
        assert person.username not in panel
    assert "/campaigns/" not in panel  # no link to a campaign page the reader may not open
