"""Many processes claim and submit against PostgreSQL at once: no item ever exceeds overlap k,
no annotation is lost, no annotator labels an item twice — and a walked-away claim comes back."""

from __future__ import annotations

import multiprocessing
import queue
import random
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models import Count
from django.utils import timezone

from datasets.annotation import services
from datasets.annotation.models import Annotation, Campaign, CampaignItem, Claim
from tests.fixtures_annotation import make_version, more_annotators

PROCESSES = 12
ITEMS = 60
OVERLAP = 3
WALKERS = 2  # annotators who leave with an item claimed


def _annotate(campaign_id: int, user_id: int, seed: int, results) -> None:
    """One annotator in its own process and database connection: claim, sometimes skip or walk
    away, otherwise submit, until the queue has nothing left for them."""
    from django.contrib.auth import get_user_model

    connections.close_all()  # never share the parent's socket
    rng = random.Random(seed)
    campaign = Campaign.objects.get(pk=campaign_id)
    user = get_user_model().objects.get(pk=user_id)
    submitted, skipped, conflicts = [], 0, 0
    try:
        while True:
            task = services.task_claim(campaign=campaign, annotator=user)
            if task is None:
                break
            roll = rng.random()
            if roll < 0.05:
                services.task_skip(campaign=campaign, annotator=user, campaign_item=task)
                skipped += 1
                continue
            if seed < WALKERS and len(submitted) >= 3:
                # Walks away mid-item and never comes back: the claim expires (its clock is
                # wound forward here), and the slot must reach someone else.
                Claim.objects.filter(campaign=campaign, annotator=user).update(
                    expires_at=timezone.now() - timedelta(seconds=1)
                )
                break
            try:
                annotation = services.annotation_submit(
                    campaign=campaign, annotator=user, campaign_item=task, value=rng.choice(["a", "b"]),
                    seconds_spent=0.1,
                )
                submitted.append(annotation.pk)
            except services.Conflict:
                conflicts += 1
        results.put({"user": user_id, "submitted": submitted, "skipped": skipped, "conflicts": conflicts})
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put({"user": user_id, "error": repr(exc)})
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_exceed_overlap_or_lose_work(project, lead):
    if connection.vendor != "postgresql":
        pytest.skip("the queue's concurrency guarantees are PostgreSQL's row locks")
    version = make_version(project, slug="busy", count=ITEMS)
    people = more_annotators(project, PROCESSES)
    campaign = services.campaign_create(
        version=version, actor=lead, name="Busy", task_type="single", labels=[{"name": "a"}, {"name": "b"}],
        overlap=OVERLAP, seed=3, annotators=people, lock_ttl_seconds=30,
    )
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(target=_annotate, args=(campaign.pk, user.pk, n, results)) for n, user in enumerate(people)
    ]
    for w in workers:
        w.start()
    reports = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    errors = [r for r in reports if "error" in r]
    assert not errors, errors

    # Annotators who found the queue empty at a moment when its last slots were still held (an
    # abandoned claim not yet expired, a release not yet committed) come back later, as people
    # do: one more round, one annotator after another.
    for n, user in enumerate(people[WALKERS:]):
        done = queue.Queue()
        _annotate(campaign.pk, user.pk, 1000 + n, done)
        report = done.get_nowait()
        assert "error" not in report, report
        reports.append(report)

    submitted = [pk for r in reports for pk in r["submitted"]]
    # Nothing lost: every annotation a process was told it made is in the database, once.
    assert len(submitted) == len(set(submitted))
    assert set(submitted) == set(Annotation.objects.filter(campaign=campaign).values_list("pk", flat=True))
    # Never more than k per item, and the counters agree with the rows.
    per_item = dict(
        Annotation.objects.filter(campaign=campaign).values_list("campaign_item_id").annotate(n=Count("id"))
    )
    assert max(per_item.values()) <= OVERLAP
    for row in CampaignItem.objects.filter(campaign=campaign):
        assert row.annotation_count == per_item.get(row.pk, 0)
        assert row.taken <= row.capacity
    # No annotator twice on an item (also a database constraint; this checks the queue avoided it).
    pairs = list(Annotation.objects.filter(campaign=campaign).values_list("campaign_item_id", "annotator_id"))
    assert len(pairs) == len(set(pairs))
    # 12 annotators (2 of whom left), 5% skips: every item still got its three annotations, so the
    # abandoned claims were released to others.
    short = [
        (row.pk, row.taken, row.annotation_count, list(row.claims.values_list("annotator_id", "expires_at")),
         list(row.skips.values_list("annotator_id", flat=True)))
        for row in CampaignItem.objects.filter(campaign=campaign, annotation_count__lt=OVERLAP)
    ]
    assert not short, (short, [(r["user"], len(r["submitted"]), r["skipped"]) for r in reports])
    assert not Claim.objects.filter(campaign=campaign).exists()
