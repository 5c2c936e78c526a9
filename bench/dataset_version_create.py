"""Creating a dataset version of many small files: the platform against plain dvc + git.

    .venv/bin/python bench/dataset_version_create.py --files 100000

In one run, on the same generated files (default 100,000 files of 100-2,000 random bytes in
100 folders):

  plain     a fresh git + DVC repository with a local DVC remote, the files copied into it, then
            timed: dvc add <folder>; git add <folder>.dvc .gitignore; git commit; git tag;
            dvc push. Twice per round: as DVC ships ("plain, DVC defaults": cache.type
            reflink,copy, what someone typing the commands gets) and configured like the
            platform's repositories ("plain, matched": the platform's cache.type, so that only
            the platform's own work differs)
  platform  a fresh project repository (datasets.storage.ensure_repo), the files copied into a
            staging folder on the same file system, then timed: datasets.storage.commit_version
            (checks the files, moves them into the workspace, dvc add, dvc push, git commit,
            git tag, reads back the DVC record; serialised by the project lock)

The remote push is included in both (the platform never leaves a version unpushed). Copying the
files in is not timed for either. The two are run alternately --repeat times (the order flips
each round so neither always finds the page cache warmer) and the medians are compared; the
overhead of the platform is also given against plain add + commit alone, without the push.
Each plain variant gets its own ratio.

By default this is the storage step only. With --full the files are 100,000 small PNG images
(8-24 pixels a side, random pixels, in 100 class folders), zipped once (not timed), and the
platform side is the whole version creation of an upload of that ZIP, as
datasets.services.version_start_from_upload + datasets.jobs._write_version do it, each step timed:

  stage     datasets.ingest.stage_upload of the ZIP into a staging folder (every member read
            through the safe archive, checked, fully decoded by Pillow — in worker processes, one
            per core — written under its content-derived name, labels.csv written), plus the
            staging manifest (uploaded names, file hashes and sizes)
  read      the job reading the staged items back (services.staged_read: the normalised layout
            completed by the manifest)
  commit    datasets.storage.commit_version of the staging folder (dvc add, dvc push, git commit,
            git tag, as above)
  items     one Item row per file inserted (COPY on PostgreSQL) in one transaction,
            and the DatasetVersion row updated (the database is whatever DATABASE_URL names;
            --full defaults it to postgres://postgres@127.0.0.1:5432/prakriya_bench, which must
            exist and be migrated)

The plain side extracts the same ZIP with `unzip` (timed separately, as "extract"), then times
dvc add + git add + git commit + git tag + dvc push as above. Two ratios are printed: against
plain add + commit + push alone (the extraction left out), and against the extraction plus
add + commit + push (the same upload turned into a version by hand). Not part of the test suite.

    .venv/bin/python bench/dataset_version_create.py --files 100000 --full --repeat 1
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASET = "bench"


def generate(folder: Path, count: int, seed: int) -> int:
    rng = random.Random(seed)
    total = 0
    for sub in range(100):
        (folder / f"class-{sub:02d}").mkdir(parents=True)
    for i in range(count):
        body = rng.randbytes(rng.randint(100, 2000))
        (folder / f"class-{i % 100:02d}" / f"item-{i:07d}.bin").write_bytes(body)
        total += len(body)
    return total


def generate_png(folder: Path, count: int, seed: int) -> int:
    """count small PNG images of random pixels in 100 class folders; returns their total size."""
    import io

    from PIL import Image

    rng = random.Random(seed)
    total = 0
    for sub in range(100):
        (folder / f"class-{sub:02d}").mkdir(parents=True)
    for i in range(count):
        width, height = rng.randint(8, 24), rng.randint(8, 24)
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        body = buffer.getvalue()
        (folder / f"class-{i % 100:02d}" / f"item-{i:07d}.png").write_bytes(body)
        total += len(body)
    return total


def build_zip(source: Path, dest: Path) -> None:
    """The upload: the class folders zipped (deflated, as archivers do), in path order."""
    import zipfile

    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(source).as_posix())


def copy_files(source: Path, dest: Path) -> None:
    # cp is several times faster than shutil.copytree for 100k files.
    subprocess.run(["cp", "-r", str(source), str(dest)], check=True)


def _env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1"}


def run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, env=_env(), check=True, stdout=subprocess.DEVNULL)


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def plain(source: Path, work: Path, cache_type: str | None, upload: Path | None = None) -> dict[str, float]:
    """Plain dvc + git (cache.type left as DVC ships it when `cache_type` is None). With `upload`,
    the files are first extracted from that ZIP with `unzip` (timed, as "extract"): what someone
    holding the same upload does by hand."""
    repo, remote = work / "plain-repo", work / "plain-remote"
    repo.mkdir()
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "config", "user.name", "Bench"], repo)
    run(["git", "config", "user.email", "bench@localhost"], repo)
    run(dvc("init", "-q"), repo)
    run(dvc("config", "core.analytics", "false"), repo)
    if cache_type is not None:
        run(dvc("config", "--local", "cache.type", cache_type), repo)
    run(dvc("remote", "add", "-q", "-d", "storage", str(remote)), repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "init"], repo)
    data = repo / "datasets" / DATASET / "data"
    data.parent.mkdir(parents=True)
    extract = 0.0
    if upload is None:
        copy_files(source, data)
    else:
        data.mkdir()
        t0 = time.perf_counter()
        run(["unzip", "-q", str(upload), "-d", str(data)], repo)
        extract = time.perf_counter() - t0

    started = time.perf_counter()
    run(dvc("add", "-q", f"datasets/{DATASET}/data"), repo)
    added = time.perf_counter()
    run(["git", "add", f"datasets/{DATASET}/data.dvc", f"datasets/{DATASET}/.gitignore"], repo)
    run(["git", "commit", "-q", "-m", "v1"], repo)
    run(["git", "tag", "-a", f"{DATASET}-v1", "-m", "v1"], repo)
    committed = time.perf_counter()
    run(dvc("push", "-q", f"datasets/{DATASET}/data.dvc"), repo)
    pushed = time.perf_counter()
    return {
        "extract": extract,
        "add": added - started,
        "git": committed - added,
        "push": pushed - committed,
        "total": pushed - started,
    }


def platform(source: Path, work: Path) -> dict[str, float]:
    from django.conf import settings

    from datasets import storage

    settings.PRAKRIYA_DVC_ROOT = work / "platform-root"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(work / "platform-remote")
    settings.PRAKRIYA_DVC_S3_ENDPOINT_URL = ""
    storage.ensure_repo("bench-project")
    staging = work / "platform-root" / "staging"
    copy_files(source, staging)

    started = time.perf_counter()
    committed = storage.commit_version(
        project_slug="bench-project", dataset_slug=DATASET, number=1, source_dir=staging, message="v1"
    )
    total = time.perf_counter() - started
    assert committed.file_count == sum(1 for p in source.rglob("*") if p.is_file())
    return {"total": total}


def platform_full(upload: Path, count: int, work: Path, round_: int) -> dict[str, float]:
    """The whole version creation of an uploaded ZIP, step by step as the platform does it."""
    import uuid

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from datasets import ingest, services, storage
    from datasets.models import DatasetVersion
    from projects.services import project_create

    settings.PRAKRIYA_DVC_ROOT = work / "platform-root"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(work / "platform-remote")
    settings.PRAKRIYA_DVC_S3_ENDPOINT_URL = ""
    suffix = f"{round_}-{uuid.uuid4().hex[:8]}"
    user = get_user_model().objects.create_user(username=f"bench-{suffix}", password=None, is_superuser=True)
    project = project_create(creator=user, slug=f"bench-{suffix}", title=f"Bench {suffix}")
    dataset = services.dataset_create(project=project, actor=user, slug=DATASET, name="Bench", kind="image")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, message="v1", created_by=user)
    storage.ensure_repo(project.slug)
    try:
        # 1. The upload is validated and normalised (services.version_start_from_upload).
        t0 = time.perf_counter()
        dest = services.staging_dir()
        staged = ingest.stage_upload(path=upload, original_name=upload.name, kind="image", dest=dest)
        services.staged_manifest_write(staged)
        t1 = time.perf_counter()
        # 2. The job reads the staged items back (jobs._write_version).
        staging = staged.root
        staged = services.staged_read(kind="image", staging=staging)
        t2 = time.perf_counter()
        # 3. The files become the version: dvc add, dvc push, git commit, git tag.
        committed = storage.commit_version(
            project_slug=project.slug, dataset_slug=DATASET, number=1, source_dir=staging, message="v1"
        )
        t3 = time.perf_counter()
        # 4. One Item row per file, as the version-writing job records them.
        services.version_record(version=version, staged=staged, committed=committed)
        t4 = time.perf_counter()
        shutil.rmtree(staging, ignore_errors=True)
        services.staged_manifest_path(staging).unlink(missing_ok=True)
        assert committed.file_count == count + 1, committed.file_count  # the images and labels.csv
        assert version.items.count() == count
    finally:
        DatasetVersion.objects.filter(pk=version.pk).delete()  # the Item rows go with it
    return {"stage": t1 - t0, "read": t2 - t1, "commit": t3 - t2, "items": t4 - t3, "total": t4 - t0}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000, help="how many small files (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of plain + platform (default 3)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to write (default: a temporary folder)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--full",
        action="store_true",
        help="PNG images uploaded as a ZIP; time the whole version creation (staging, read, commit, Item rows)",
    )
    parser.add_argument(
        "--plain",
        choices=("both", "defaults", "matched"),
        default="both",
        help="plain variants to run each round: DVC's defaults, the platform's cache.type, or both (default)",
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="prakriya-bench-", dir=args.workdir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")
    os.environ.setdefault("PRAKRIYA_DATA_DIR", str(base / "django-data"))
    if args.full:
        os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prakriya_bench")
    import django

    django.setup()
    from datasets import storage

    variants = {"defaults": None, "matched": storage.CACHE_TYPE}
    if args.plain != "both":
        variants = {args.plain: variants[args.plain]}
    try:
        source = base / "source"
        t0 = time.perf_counter()
        if args.full:
            from django.db import connection

            size = generate_png(source, args.files, args.seed)
            print(f"{args.files:,} PNG files, {size / 1e6:.1f} MB, generated in {time.perf_counter() - t0:.1f} s")
            upload = base / "images.zip"
            t0 = time.perf_counter()
            build_zip(source, upload)
            print(f"ZIP {upload.stat().st_size / 1e6:.1f} MB, built in {time.perf_counter() - t0:.1f} s")
            print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        else:
            size = generate(source, args.files, args.seed)
            print(f"{args.files:,} files, {size / 1e6:.1f} MB, generated in {time.perf_counter() - t0:.1f} s")
        print(
            "DVC cache.type: "
            + ", ".join(f"plain {name} {ctype or 'unset (reflink,copy)'}" for name, ctype in variants.items())
            + f", platform {storage.CACHE_TYPE}; push included in all"
        )
        plains: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        platforms: list[float] = []
        steps: list[dict[str, float]] = []
        sides = [*variants, "platform"]
        for round_ in range(args.repeat):
            # The order rotates every round, so that no side always runs first or last.
            shift = round_ % len(sides)
            for which in sides[shift:] + sides[:shift]:
                work = base / f"round-{round_}-{which}"
                work.mkdir()
                # Dirty pages of the previous side are written out first, untimed, so no side
                # pays for another's writes.
                os.sync()
                if which in variants:
                    result = plain(source, work, variants[which], upload if args.full else None)
                    plains[which].append(result)
                    print(
                        f"round {round_ + 1} plain {which:8s} {result['total']:7.2f} s "
                        f"(dvc add {result['add']:.2f}, git add+commit+tag {result['git']:.2f}, "
                        f"dvc push {result['push']:.2f})"
                        + (f"; unzip before it {result['extract']:.2f} s" if args.full else ""),
                        flush=True,
                    )
                elif args.full:
                    result = platform_full(upload, args.files, work, round_)
                    platforms.append(result["total"])
                    steps.append(result)
                    print(
                        f"round {round_ + 1} platform       {result['total']:7.2f} s "
                        f"(stage_upload {result['stage']:.2f}, staged_read {result['read']:.2f}, "
                        f"commit_version {result['commit']:.2f}, Item rows {result['items']:.2f})",
                        flush=True,
                    )
                else:
                    result = platform(source, work)
                    platforms.append(result["total"])
                    print(f"round {round_ + 1} platform       {result['total']:7.2f} s", flush=True)
                # Kept until the end: deleting 300,000 files (workspace, cache, remote) on a disk
                # mounted with `discard` slows whatever runs next by tens of seconds.

        platform_total = statistics.median(platforms)
        print()
        print(f"median platform {platform_total:7.2f} s")
        if steps:
            print(
                "  median steps: "
                + ", ".join(f"{k} {statistics.median(r[k] for r in steps):.2f} s" for k in ("stage", "read", "commit", "items"))
            )
        for name, results in plains.items():
            plain_total = statistics.median(p["total"] for p in results)
            plain_no_push = statistics.median(p["add"] + p["git"] for p in results)
            ratio = platform_total / plain_total
            extra = platform_total - plain_total
            print(
                f"plain {name}: median {plain_total:.2f} s (add + commit + tag {plain_no_push:.2f} s, push the rest); "
                f"ratio platform/plain {ratio:.3f}  overhead {100 * (ratio - 1):+.1f}%  (target < +25%); "
                f"{extra:+.2f} s = {100 * extra / plain_no_push:+.1f}% of plain add + commit alone"
            )
            if args.full:
                with_extract = statistics.median(p["extract"] + p["total"] for p in results)
                ratio = platform_total / with_extract
                print(
                    f"  with unzip of the same upload {with_extract:.2f} s; "
                    f"ratio platform/plain {ratio:.3f}  overhead {100 * (ratio - 1):+.1f}%"
                )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
