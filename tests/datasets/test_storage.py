"""Dataset versions in DVC, for real: git, dvc and a local DVC remote in a temporary folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import dvc.api
import pytest
from dvc.exceptions import PathMissingError

from datasets import storage
from datasets.storage.cache import cache_object

PROJECT = "digits"
DATASET = "scans"

V1 = {"a.txt": b"alpha, first version\n", "sub/b.bin": bytes(range(256)), "c.txt": b"gamma\n"}
# a.txt changed, c.txt removed, d.txt added.
V2 = {"a.txt": b"alpha, second version\n", "sub/b.bin": bytes(range(256)), "d.txt": b"delta\n"}


@pytest.fixture
def dvc_dirs(settings, tmp_path):
    settings.PRAKRIYA_DVC_ROOT = tmp_path / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(tmp_path / "remote")
    settings.PRAKRIYA_DVC_S3_ENDPOINT_URL = ""
    return tmp_path


def _source(base: Path, name: str, files: dict[str, bytes]) -> Path:
    folder = base / "sources" / name
    for rel, body in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(body)
    return folder


def _commit(
    base: Path, number: int, files: dict[str, bytes], dataset: str = DATASET
) -> storage.CommittedVersion:
    return storage.commit_version(
        project_slug=PROJECT,
        dataset_slug=dataset,
        number=number,
        source_dir=_source(base, f"{dataset}-{number}", files),
        message=f"{dataset} v{number}",
    )


def _files(folder: Path) -> dict[str, bytes]:
    """The version's own files; the salt the platform adds to every version is checked apart."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != storage.SALT_FILE
    }


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _state(repo: Path) -> dict:
    """What a failed write must leave exactly as it was."""
    return {
        "head": _git(repo, "rev-parse", "HEAD"),
        "tags": _git(repo, "tag", "--list"),
        "status": _git(repo, "status", "--porcelain", "--untracked-files=all"),
        "workspace": _files(repo / "datasets" / DATASET / "data"),
    }


def _remote_object(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def test_v1_bytes_come_back_from_dvc_after_v2_and_from_the_remote_without_cache(dvc_dirs):
    v1 = _commit(dvc_dirs, 1, V1)
    v2 = _commit(dvc_dirs, 2, V2)
    repo = storage.repo_path(PROJECT)

    assert (v1.tag, v2.tag) == (f"{DATASET}-v1", f"{DATASET}-v2")
    assert len(v1.commit) == 40 and v1.commit != v2.commit
    assert _git(repo, "rev-parse", f"{v2.commit}^") == v1.commit
    assert v1.dvc_md5.endswith(".dir") and v1.dvc_md5 != v2.dvc_md5
    # Each version's files plus its salt.
    assert (v1.file_count, v2.file_count) == (4, 4)
    # The workspace holds the latest version, and the working tree is clean.
    assert _files(repo / "datasets" / DATASET / "data") == V2
    assert _git(repo, "status", "--porcelain") == ""
    # A file new in v2 is its object in DVC's cache (a hard link: the bytes are on disk once, and
    # DVC filed them with a link, not a copy), protected read-only. (sub/b.bin was cached by v1:
    # DVC leaves v2's copy of it as it is.)
    for rel in ("a.txt", "d.txt"):
        body = V2[rel]
        workspace = os.stat(repo / "datasets" / DATASET / "data" / rel)
        assert workspace.st_ino == os.stat(cache_object(repo, hashlib.md5(body).hexdigest())).st_ino
        assert workspace.st_mode & 0o222 == 0

    # The real DVC API, at each tag.
    for rev, files in ((v1.tag, V1), (v2.tag, V2)):
        for rel, body in files.items():
            assert dvc.api.read(f"datasets/{DATASET}/data/{rel}", repo=str(repo), rev=rev, mode="rb") == body
    with pytest.raises(PathMissingError):
        dvc.api.read(f"datasets/{DATASET}/data/c.txt", repo=str(repo), rev=v2.tag, mode="rb")

    # The remote holds every object of both versions, and each .dir listing.
    remote = dvc_dirs / "remote"
    for body in [*V1.values(), *V2.values()]:
        assert _remote_object(remote, hashlib.md5(body).hexdigest()).read_bytes() == body
    for version in (v1, v2):
        assert _remote_object(remote, version.dvc_md5).is_file()

    # Without any local cache, v1 is fetched from the remote.
    shutil.rmtree(repo / ".dvc" / "cache")
    dest = storage.materialize_version(
        project_slug=PROJECT, dataset_slug=DATASET, tag=v1.tag, dest=dvc_dirs / "out" / "v1"
    )
    assert _files(dest) == V1
    assert (
        storage.read_file(project_slug=PROJECT, dataset_slug=DATASET, tag=v1.tag, relpath="c.txt")
        == V1["c.txt"]
    )
    # Materialised files are the reader's own copies, not links into DVC's cache.
    assert all(p.stat().st_nlink == 1 for p in dest.rglob("*") if p.is_file())


def test_an_outsider_reproduces_a_version_with_plain_git_and_dvc(dvc_dirs, settings):
    v1 = _commit(dvc_dirs, 1, V1)
    _commit(dvc_dirs, 2, V2)
    repo = storage.repo_path(PROJECT)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }

    def reproduce(tag: str, where: Path) -> dict[str, bytes]:
        where.mkdir(parents=True)
        script = storage.reproduce_instructions(project_slug=PROJECT, dataset_slug=DATASET, tag=tag)
        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=where, env=env, check=True, capture_output=True
        )
        return _files(where / f"{PROJECT}-data" / "datasets" / DATASET / "data")

    script = storage.reproduce_instructions(project_slug=PROJECT, dataset_slug=DATASET, tag=v1.tag)
    assert f"git clone {repo}" in script and f"git checkout {v1.tag}" in script
    assert f"dvc pull datasets/{DATASET}/data" in script
    assert reproduce(v1.tag, dvc_dirs / "outsider") == V1

    # The remote moves (a new deployment): old tags still come back, from the new place.
    moved = dvc_dirs / "moved-remote"
    (dvc_dirs / "remote").rename(moved)
    settings.PRAKRIYA_DVC_REMOTE_URL = str(moved)
    shutil.rmtree(repo / ".dvc" / "cache")
    assert reproduce(v1.tag, dvc_dirs / "outsider-after-move") == V1
    assert (
        storage.read_file(project_slug=PROJECT, dataset_slug=DATASET, tag=v1.tag, relpath="a.txt")
        == V1["a.txt"]
    )
    # The next write points the repository's committed config at the new remote.
    storage.ensure_repo(PROJECT)
    assert str(moved) in _git(repo, "show", "HEAD:.dvc/config")


def test_a_failed_push_leaves_no_version_behind_and_the_next_write_works(dvc_dirs):
    _commit(dvc_dirs, 1, V1)
    repo = storage.repo_path(PROJECT)
    before = _state(repo)
    # The remote can't take new objects: its objects folder is replaced by a plain file.
    remote = dvc_dirs / "remote"
    (remote / "files").rename(dvc_dirs / "remote-files")
    (remote / "files").write_text("not a folder")

    with pytest.raises(storage.StorageError, match="dvc push"):
        _commit(dvc_dirs, 2, V2)

    assert _state(repo) == before
    assert not (dvc_dirs / "dvc" / f"{PROJECT}.work" / "journal.json").exists()
    assert list((dvc_dirs / "dvc" / f"{PROJECT}.work").glob("trash-*")) == []

    (remote / "files").unlink()
    (dvc_dirs / "remote-files").rename(remote / "files")
    v2 = _commit(dvc_dirs, 2, V2)
    assert _git(repo, "rev-parse", f"{v2.commit}^") == before["head"]
    assert _files(repo / "datasets" / DATASET / "data") == V2


def test_a_failure_after_the_commit_undoes_commit_and_leaves_a_new_dataset_absent(dvc_dirs):
    _commit(dvc_dirs, 1, V1)
    repo = storage.repo_path(PROJECT)
    before = _state(repo)
    # git cannot create refs/tags/other-v1 while refs/tags/other-v1/ is a folder of tags: the
    # write fails at its very last step, after DVC add, push and the commit.
    _git(repo, "tag", "other-v1/blocker")
    before["tags"] = _git(repo, "tag", "--list")

    with pytest.raises(storage.StorageError, match="git tag"):
        _commit(dvc_dirs, 1, {"x.txt": b"x"}, dataset="other")

    assert _state(repo) == before
    assert not (repo / "datasets" / "other").exists()

    _git(repo, "tag", "-d", "other-v1/blocker")
    other = _commit(dvc_dirs, 1, {"x.txt": b"x"}, dataset="other")
    assert _git(repo, "rev-parse", f"{other.commit}^") == before["head"]


def test_a_source_with_a_link_is_refused_and_left_untouched(dvc_dirs):
    _commit(dvc_dirs, 1, V1)
    repo = storage.repo_path(PROJECT)
    before = _state(repo)
    source = _source(dvc_dirs, "hostile", {"ok.txt": b"ok"})
    (source / "passwd").symlink_to("/etc/passwd")

    with pytest.raises(storage.StorageError, match="links"):
        storage.commit_version(
            project_slug=PROJECT, dataset_slug=DATASET, number=2, source_dir=source, message=""
        )

    assert _state(repo) == before
    assert (source / "ok.txt").read_bytes() == b"ok"


def test_two_writes_at_once_are_serialised_and_both_tagged(dvc_dirs):
    storage.ensure_repo(PROJECT)
    sources = {
        n: _source(dvc_dirs, f"t{n}", {f"{n}.txt": str(n).encode() * 100, "same.txt": b"s"}) for n in (1, 2)
    }
    results: dict[int, storage.CommittedVersion] = {}
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            results[number] = storage.commit_version(
                project_slug=PROJECT,
                dataset_slug=DATASET,
                number=number,
                source_dir=sources[number],
                message="",
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    repo = storage.repo_path(PROJECT)
    assert _git(repo, "tag", "--list").split() == [f"{DATASET}-v1", f"{DATASET}-v2"]
    first, second = sorted(results.values(), key=lambda v: int(_git(repo, "rev-list", "--count", v.commit)))
    # One after the other: the later commit sits on top of the earlier one.
    assert _git(repo, "rev-parse", f"{second.commit}^") == first.commit
    for number, version in results.items():
        body = dvc.api.read(
            f"datasets/{DATASET}/data/{number}.txt", repo=str(repo), rev=version.tag, mode="rb"
        )
        assert body == str(number).encode() * 100


def test_writing_an_existing_tag_again_returns_the_same_version(dvc_dirs):
    v1 = _commit(dvc_dirs, 1, V1)
    repo = storage.repo_path(PROJECT)
    commits = _git(repo, "rev-list", "--count", "HEAD")

    # As after a crash once the files were committed: the source folder is gone.
    again = storage.commit_version(
        project_slug=PROJECT,
        dataset_slug=DATASET,
        number=1,
        source_dir=dvc_dirs / "consumed",
        message="retry",
    )

    assert again == v1
    assert storage.ensure_repo(PROJECT) == repo
    assert _git(repo, "rev-list", "--count", "HEAD") == commits
    assert _git(repo, "status", "--porcelain") == ""


def test_a_write_interrupted_by_a_crash_is_undone_by_the_next_one(dvc_dirs):
    v1 = _commit(dvc_dirs, 1, V1)
    repo = storage.repo_path(PROJECT)
    data = repo / "datasets" / DATASET / "data"
    # Replay what a killed process leaves behind just before tagging: journal written,
    # workspace set aside, new files added to DVC and committed, no tag.
    work = dvc_dirs / "dvc" / f"{PROJECT}.work"
    work.mkdir(exist_ok=True)
    (work / "journal.json").write_text(
        json.dumps(
            {
                "tag": f"{DATASET}-v2",
                "dataset": DATASET,
                "head": v1.commit,
                "trash": "trash-crashed",
                "had_workspace": True,
            }
        )
    )
    data.rename(work / "trash-crashed")
    shutil.move(_source(dvc_dirs, "crashed", {"half.txt": b"half"}), data)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(
        [sys.executable, "-m", "dvc", "add", "-q", f"datasets/{DATASET}/data"], cwd=repo, env=env, check=True
    )
    _git(repo, "add", f"datasets/{DATASET}/data.dvc")
    _git(repo, "commit", "-q", "-m", "crashed before its tag")

    v2 = _commit(dvc_dirs, 2, V2)

    assert _git(repo, "rev-parse", f"{v2.commit}^") == v1.commit
    assert _git(repo, "tag", "--list").split() == [f"{DATASET}-v1", f"{DATASET}-v2"]
    assert _files(data) == V2
    assert not (work / "journal.json").exists() and not (work / "trash-crashed").exists()


def test_read_file_refuses_paths_outside_the_version_and_reports_missing_files(dvc_dirs):
    v1 = _commit(dvc_dirs, 1, V1)

    def read(relpath: str) -> bytes:
        return storage.read_file(project_slug=PROJECT, dataset_slug=DATASET, tag=v1.tag, relpath=relpath)

    assert read("sub/b.bin") == V1["sub/b.bin"]
    assert read("./sub//b.bin") == V1["sub/b.bin"]
    # Files are read straight from DVC's local cache; one whose cached object is gone (a pruned
    # cache) still comes back, from the remote.
    repo = storage.repo_path(PROJECT)
    cached = repo / ".dvc" / "cache" / "files" / "md5"
    md5 = hashlib.md5(V1["a.txt"]).hexdigest()
    assert (cached / md5[:2] / md5[2:]).read_bytes() == V1["a.txt"]
    (cached / md5[:2] / md5[2:]).unlink()
    assert read("a.txt") == V1["a.txt"]
    for bad in ("../data.dvc", "/etc/passwd", "sub/../../.gitignore", "nope.txt", ""):
        with pytest.raises(FileNotFoundError):
            read(bad)
    with pytest.raises(storage.StorageError):
        storage.read_file(project_slug=PROJECT, dataset_slug=DATASET, tag=f"{DATASET}-v9", relpath="a.txt")
    with pytest.raises(storage.StorageError):
        storage.materialize_version(
            project_slug=PROJECT, dataset_slug="../x", tag=v1.tag, dest=dvc_dirs / "o"
        )


# --- salts, re-commits and purging (what sealing labels relies on) ---------------------------------


def _dvc_file(repo: Path, rev: str) -> str:
    return _git(repo, "show", f"{rev}:datasets/{DATASET}/data.dvc")


def test_every_version_holds_a_fresh_salt_and_its_dvc_file_no_byte_total(dvc_dirs):
    first = _commit(dvc_dirs, 1, V1)
    # The same files again: without a salt they would hash alike, and a hash shown anywhere could
    # be recomputed from guessed contents.
    second = _commit(dvc_dirs, 2, V1)
    repo = storage.repo_path(PROJECT)

    assert first.dvc_md5 != second.dvc_md5
    salts = [
        storage.read_file(project_slug=PROJECT, dataset_slug=DATASET, tag=v.tag, relpath=storage.SALT_FILE)
        for v in (first, second)
    ]
    assert salts[0] != salts[1] and all(len(s.strip()) == 64 for s in salts)
    for version in (first, second):
        text = _dvc_file(repo, version.tag)
        assert "size:" not in text and "nfiles: 4" in text and version.dvc_md5 in text


def test_a_recommit_moves_the_tag_keeps_the_old_commit_in_history_and_checks_where_the_tag_was(dvc_dirs):
    v1 = _commit(dvc_dirs, 1, V1)
    v2 = _commit(dvc_dirs, 2, V2)
    repo = storage.repo_path(PROJECT)
    redacted = {**V1, "a.txt": b"alpha, labels left out\n"}

    with pytest.raises(storage.VersionMovedError):
        storage.recommit_version(
            project_slug=PROJECT, dataset_slug=DATASET, number=1, source_dir=_source(dvc_dirs, "r0", redacted),
            message="again", expected_commit=v2.commit,
        )
    old, new = storage.recommit_version(
        project_slug=PROJECT, dataset_slug=DATASET, number=1, source_dir=_source(dvc_dirs, "r1", redacted),
        message="v1 written again", expected_commit=v1.commit,
    )

    assert old == v1 and new.commit != v1.commit and new.tag == v1.tag
    assert storage.tag_commit(project_slug=PROJECT, tag=v1.tag) == new.commit
    assert _git(repo, "merge-base", "--is-ancestor", v1.commit, "HEAD") == ""  # still in history
    dest = storage.materialize_version(project_slug=PROJECT, dataset_slug=DATASET, tag=v1.tag, dest=dvc_dirs / "m1")
    assert _files(dest) == redacted
    # The branch's workspace was v1's for the write; restoring puts v2 back, and says so once.
    assert storage.workspace_restore(project_slug=PROJECT, dataset_slug=DATASET, tag=v2.tag) is True
    assert storage.workspace_restore(project_slug=PROJECT, dataset_slug=DATASET, tag=v2.tag) is False
    assert _files(repo / "datasets" / DATASET / "data") == V2
    assert _dvc_file(repo, "HEAD") == _dvc_file(repo, v2.tag)
    assert _git(repo, "status", "--porcelain") == ""


def test_purging_deletes_only_what_no_tag_needs_from_cache_and_remote(dvc_dirs):
    v1 = _commit(dvc_dirs, 1, V1)
    v2 = _commit(dvc_dirs, 2, V2)
    repo = storage.repo_path(PROJECT)
    remote = dvc_dirs / "remote"
    # Another dataset shares a file with v1's a.txt: it must survive the purge.
    _commit(dvc_dirs, 1, {"shared.txt": V1["a.txt"]}, dataset="other")
    redacted = {**V1, "c.txt": b"gamma without its label\n"}
    old, _ = storage.recommit_version(
        project_slug=PROJECT, dataset_slug=DATASET, number=1, source_dir=_source(dvc_dirs, "r1", redacted),
        message="again", expected_commit=v1.commit,
    )
    old_salt = json.loads(cache_object(repo, old.dvc_md5.removesuffix(".dir")).with_suffix(".dir").read_text())
    old_salt_md5 = next(e["md5"] for e in old_salt if e["relpath"] == storage.SALT_FILE)
    gone = [hashlib.md5(V1["c.txt"]).hexdigest(), old_salt_md5, old.dvc_md5]

    purged = storage.purge_unreferenced(project_slug=PROJECT, dataset_slug=DATASET)

    assert purged == 3
    for oid in gone:
        assert not _remote_object(remote, oid).exists()
        assert not cache_object(repo, oid).exists()
    for body in (V1["a.txt"], V1["sub/b.bin"], V2["d.txt"], redacted["c.txt"]):
        assert _remote_object(remote, hashlib.md5(body).hexdigest()).is_file()
    assert storage.purge_unreferenced(project_slug=PROJECT, dataset_slug=DATASET) == 0
    # Every tag still comes back whole from the remote alone.
    shutil.rmtree(repo / ".dvc" / "cache")
    for tag, files in ((v1.tag, redacted), (v2.tag, V2)):
        dest = storage.materialize_version(project_slug=PROJECT, dataset_slug=DATASET, tag=tag, dest=dvc_dirs / tag)
        assert _files(dest) == files
