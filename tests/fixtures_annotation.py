"""Campaign fixtures: a ready text and image dataset version written straight to the database
(the queue needs items, not DVC), and campaigns over them with the role fixtures as annotators."""

from __future__ import annotations

import pytest

from datasets.annotation import services
from datasets.models import Dataset, DatasetVersion, Item, VersionState
from tests.factories import UserFactory

TEXTS = [
    "The parcel arrived late and damaged.",
    "Great service, thank you!",
    "राम ने दिल्ली में किताब पढ़ी।",
    "யாழ்ப்பாணம் ஒரு அழகான நகரம்.",
    "আমি ঢাকায় থাকি।",
    "یہ کراچی میں ایک جملہ ہے۔",
    "Refund still not processed after 3 weeks.",
    "Okay I guess.",
    "Loved it 😀 will order again",
    "Nothing to say.",
    "Where is my order?",
    "The app crashes on start.",
]


def make_version(project, *, kind: str = "text", slug: str = "reviews", count: int | None = None,
                 labels: list[str | None] | None = None) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, slug=slug, name=slug.title(), kind=kind)
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, state=VersionState.READY, git_tag=f"{slug}-v1", git_commit="0" * 40
    )
    n = count if count is not None else len(TEXTS)
    items = []
    for i in range(n):
        text = TEXTS[i % len(TEXTS)] if kind == "text" else ""
        items.append(Item(
            version=version, key=f"{slug}-{i:06d}", label=(labels[i] if labels else None),
            content_hash=f"{i:064d}", size_bytes=len(text.encode()), text=text,
            file_path=f"images/{i:06d}.png" if kind == "image" else "",
        ))
    Item.objects.bulk_create(items, batch_size=5000)
    version.item_count = n
    version.save()
    return version


@pytest.fixture
def text_version(project):
    return make_version(project)


@pytest.fixture
def campaign(text_version, lead, engineer, annotator):
    return services.campaign_create(
        version=text_version, actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive", "shortcut": "p"}, {"name": "negative", "shortcut": "n"},
                {"name": "neutral", "shortcut": "u"}],
        overlap=2, seed=7, annotators=[annotator, engineer, lead],
        definitions={"positive": "The writer is pleased."},
    )


def more_annotators(project, count: int) -> list:
    from projects.models import Membership, Role

    people = []
    for _ in range(count):
        user = UserFactory()
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    return people


def bulk_annotations(campaign, rows) -> None:
    """Annotations written straight to the database, (campaign item, annotator, value) each, with
    the items' counters to match: for tests that need hundreds of labelled items, not the queue."""
    from collections import Counter

    from django.utils import timezone

    from datasets.annotation.models import Annotation, CampaignItem

    now = timezone.now()
    Annotation.objects.bulk_create(
        [Annotation(campaign=campaign, campaign_item=item, annotator=person, value=value, created_at=now, updated_at=now)
         for item, person, value in rows],
        batch_size=5000,
    )
    per_item = Counter(item.pk for item, _, _ in rows)
    for count in set(per_item.values()):
        pks = [pk for pk, n in per_item.items() if n == count]
        CampaignItem.objects.filter(pk__in=pks).update(taken=count, annotation_count=count)
