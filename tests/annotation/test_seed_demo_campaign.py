import io

import pytest
from django.core.management import call_command

from datasets.annotation import services
from datasets.annotation.models import Campaign
from datasets.models import VersionState


def _quiet(name: str) -> str:
    out = io.StringIO()
    call_command(name, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_campaign_writes_the_digits_version_first_and_is_made_once():
    _quiet("seed_demo")
    _quiet("seed_demo_datasets")
    assert "Created campaign digit-labels: 1797 items" in _quiet("seed_demo_campaign")
    assert "left as it is" in _quiet("seed_demo_campaign")

    campaign = Campaign.objects.get(project__slug="handwritten-digits", slug="digit-labels")
    assert campaign.version.state == VersionState.READY and campaign.version.git_tag == "digits-v1"
    assert campaign.items.count() == 1797
    assert sorted(campaign.annotators.values_list("username", flat=True)) == ["annotator1", "annotator2", "engineer"]
    assert [(label.name, label.shortcut) for label in campaign.labels.all()] == [(str(d), str(d)) for d in range(10)]
    # The demo's annotators can start labelling straight away.
    annotator = campaign.annotators.get(username="annotator1")
    task = services.task_claim(campaign=campaign, annotator=annotator)
    assert task is not None and task.item.file_path.startswith("images/")
