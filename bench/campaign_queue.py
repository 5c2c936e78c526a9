"""Labelling campaigns at scale: importing a million text items, and the next-task claim under
fifty concurrent annotators.

    .venv/bin/python bench/campaign_queue.py import [--items 1000000]
    .venv/bin/python bench/campaign_queue.py claims [--items 100000] [--annotators 50] [--think 1.0]

import   A JSON Lines upload of N short texts becomes a campaign's queue, the way the platform
         does it: datasets.services.version_start_from_upload (validate and normalise), the
         version-writing job run in this process (DVC add + push, git commit, Item rows by COPY),
         then annotation.services.campaign_create (queue rows by COPY, seeded random order).
         Each step is timed; the issue's limit is 60 s. A reference in the same run: a bare
         COPY of N rows of (id, text) into a scratch table, the floor for getting them into
         PostgreSQL at all.
claims   A campaign over N items (overlap 3) and A annotators, each in its own process and
         database connection, claiming and submitting through annotation.services until the
         queue is empty for them. Two phases: with think time (each annotator waits a random
         0.5-1.5 x THINK seconds between items, as people do; latency is what they feel), then
         flat out (no think time: the throughput ceiling). Reports claims/s, p50/p95/p99 claim
         latency, and checks afterwards that no item has more than 3 annotations and no
         annotator labelled an item twice. The issue's goal: p95 under 20 ms, zero violations.

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/prakriya_bench, which
must exist and be migrated). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prakriya_bench")
    os.environ.setdefault("PRAKRIYA_DATA_DIR", str(workdir / "data"))
    import django

    django.setup()
    from django.conf import settings

    settings.PRAKRIYA_DVC_ROOT = workdir / "dvc-root"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(workdir / "dvc-remote")
    settings.PRAKRIYA_DVC_S3_ENDPOINT_URL = ""
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 2 * 1024**3
    settings.PRAKRIYA_UPLOAD_MAX_ROWS = 10_000_000


def project_and_lead(tag: str):
    import uuid

    from django.contrib.auth import get_user_model

    from projects.services import project_create

    suffix = f"{tag}-{uuid.uuid4().hex[:8]}"
    lead = get_user_model().objects.create_user(username=f"lead-{suffix}", password=None)
    project = project_create(creator=lead, slug=f"bench-{suffix}", title=f"Bench {suffix}")
    return project, lead


def bench_import(items: int, workdir: Path) -> None:
    from django.db import connection, transaction

    from datasets import services as dataset_services
    from datasets.annotation import services
    from datasets.models import DatasetVersion
    from prakriya.jobs.runner import job_execute

    rng = random.Random(1)
    words = ["order", "late", "great", "refund", "broken", "thanks", "where", "app", "price", "slow"]
    upload = workdir / "texts.jsonl"
    t0 = time.perf_counter()
    with open(upload, "w", encoding="utf-8") as fh:
        for i in range(items):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + f" #{i}"
            fh.write(json.dumps({"text": text}) + "\n")
    print(f"{items:,} texts, {upload.stat().st_size / 1e6:.1f} MB, generated in {time.perf_counter() - t0:.1f} s")

    # The floor: COPY of the same number of (id, text) rows into a scratch table.
    with open(upload, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy (id bigint, text text) ON COMMIT DROP")
        with cursor.cursor.copy("COPY bench_copy (id, text) FROM STDIN") as copy:
            for i, text in enumerate(texts):
                copy.write_row((i, text))
    floor = time.perf_counter() - t0
    del texts
    print(f"reference: bare COPY of {items:,} (id, text) rows: {floor:.2f} s")

    project, lead = project_and_lead("import")
    dataset = dataset_services.dataset_create(project=project, actor=lead, slug="texts", name="Texts", kind="text")
    steps = {}
    t0 = time.perf_counter()
    job = dataset_services.version_start_from_upload(
        dataset=dataset, actor=lead, path=upload, original_name="texts.jsonl"
    )
    steps["validate and stage the upload"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert job_execute(job.pk) == "succeeded", job.pk
    steps["version job (DVC, git, Item rows)"] = time.perf_counter() - t0
    version = DatasetVersion.objects.get(job=job)
    t0 = time.perf_counter()
    campaign = services.campaign_create(
        version=version, actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive"}, {"name": "negative"}], overlap=3, seed=7,
    )
    steps["campaign_create (queue rows)"] = time.perf_counter() - t0
    assert campaign.items.count() == items
    total = sum(steps.values())
    for name, seconds in steps.items():
        print(f"  {name:<38} {seconds:7.2f} s")
    print(f"  {'total':<38} {total:7.2f} s  ({items / total:,.0f} items/s; limit 60 s: "
          f"{'pass' if total < 60 else 'FAIL'})")
    print(f"  queue rows alone: {items / steps['campaign_create (queue rows)']:,.0f} rows/s; "
          f"ratio total / bare COPY {total / floor:.1f}x")


def _annotator(campaign_id: int, user_id: int, think: float, seed: int, start_at: float, out) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connections

    from datasets.annotation import services
    from datasets.annotation.models import Campaign

    connections.close_all()
    rng = random.Random(seed)
    campaign = Campaign.objects.get(pk=campaign_id)
    user = get_user_model().objects.get(pk=user_id)
    latencies, submits = [], []
    deadline = start_at + DURATION
    while time.time() < start_at:
        time.sleep(0.01)
    while time.time() < deadline:
        t0 = time.perf_counter()
        task = services.task_claim(campaign=campaign, annotator=user)
        latencies.append(time.perf_counter() - t0)
        if task is None:
            break
        if think:
            time.sleep(think * rng.uniform(0.5, 1.5))
        t0 = time.perf_counter()
        services.annotation_submit(campaign=campaign, annotator=user, campaign_item=task, value="positive")
        submits.append(time.perf_counter() - t0)
    out.put((latencies, submits))
    connections.close_all()


DURATION = 30.0


def bench_claims(items: int, annotators: int, think: float) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.db.models import Count, Max

    from datasets.annotation import services
    from datasets.annotation.models import Annotation
    from datasets.models import Dataset, DatasetVersion, Item, VersionState
    from prakriya.lib.bulk import bulk_insert
    from projects.models import Membership, Role

    project, lead = project_and_lead("claims")
    dataset = Dataset.objects.create(project=project, slug="texts", name="Texts", kind="text")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY, item_count=items)
    bulk_insert(
        Item, ["version_id", "key", "content_hash", "size_bytes", "text"],
        ((version.pk, f"t{i:07d}", f"{i:064x}", 20, f"text number {i}") for i in range(items)),
    )
    people = []
    for i in range(annotators):
        user = get_user_model().objects.create_user(username=f"a{i}-{project.slug}", password=None)
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    campaign = services.campaign_create(
        version=version, actor=lead, name="Claims", task_type="single", labels=[{"name": "positive"}],
        overlap=3, seed=1, annotators=people,
    )
    print(f"campaign over {items:,} items, overlap 3, {annotators} annotators, each in its own process")
    context = multiprocessing.get_context("fork")
    for phase, pause in (("with think time", think), ("flat out", 0.0)):
        connections.close_all()
        out = context.Queue()
        start_at = time.time() + 2.0
        procs = [
            context.Process(target=_annotator, args=(campaign.pk, u.pk, pause, n, start_at, out))
            for n, u in enumerate(people)
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=DURATION + 120) for _ in procs]
        for p in procs:
            p.join()
        claims = sorted(x for lat, _ in results for x in lat)
        submits = sorted(x for _, sub in results for x in sub)
        q = statistics.quantiles(claims, n=100)
        print(
            f"  {phase:<16} {len(claims):6,} claims in {DURATION:.0f} s = {len(claims) / DURATION:7.1f} claims/s; "
            f"claim latency p50 {1000 * q[49]:6.1f} ms, p95 {1000 * q[94]:6.1f} ms, p99 {1000 * q[98]:6.1f} ms "
            f"(goal p95 < 20 ms); submit p95 {1000 * statistics.quantiles(submits, n=100)[94]:.1f} ms"
        )
    most = Annotation.objects.filter(campaign=campaign).values("campaign_item").annotate(n=Count("id")).aggregate(
        m=Max("n")
    )["m"]
    pairs = Annotation.objects.filter(campaign=campaign).count()
    distinct = Annotation.objects.filter(campaign=campaign).values("campaign_item", "annotator").distinct().count()
    violations = int((most or 0) > 3) + (pairs - distinct)
    print(f"  {pairs:,} annotations; most on one item {most}; overlap violations: {violations}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["import", "claims"])
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between items (claims)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="prakriya-bench-", dir=args.workdir))
    setup(workdir)
    try:
        if args.what == "import":
            bench_import(args.items or 1_000_000, workdir)
        else:
            bench_claims(args.items or 100_000, args.annotators, args.think)
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
