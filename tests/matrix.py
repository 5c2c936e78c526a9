"""The permission matrices' shared loop: the world built once per route, one request per role.

A matrix test builds its fixtures (users, projects, datasets, campaigns…) once for a route, then
sends each role's request inside a savepoint that is rolled back, so a write by one role never
changes what the next role sees. What lives outside the database is put back too: the folders the
platform writes to (DVC repositories and remote, exports, staging) are restored as the setup left
them when a request changed them, the cache is emptied, and every role gets a fresh client (its own
session or token). A role's session is made once per test, outside the savepoints, and each fresh
client of that role is given its cookie: what a request does to the session (signing out, a new
key) is put back with the savepoint, and cookies a response sets never reach the next request.
Callbacks registered with `transaction.on_commit` never run, as in any test on pytest-django's `db`
fixture: the rolled-back savepoint drops them.

Each request records the access-policy actions it asked about (ACTIONS_REACHED below).

Every HTML answer must also carry the platform's Content-Security-Policy (tests/csp.py).

Every cell is checked, and one assertion at the end lists every mismatching cell with what came
back, so a failure reads as well as one test per cell did.

With PRAKRIYA_MATRIX_CELLS=<file> in the environment each checked cell (test, route, visibility,
role, expected) is appended to that file as a JSON line: how to compare the cells checked with the
tables that define them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from django.db import transaction
from django.http import HttpResponseBase
from django.test import Client
from rest_framework.test import APIClient

from projects import policy
from tests.csp import csp_problem

EXCERPT = 300  # characters of the body shown for a mismatching cell

# Every access-policy action a matrix request asked about in this process; tests/conftest.py
# gathers them from every process and fails a full run that left an action of projects/policy.py
# unreached (a rule no route is tested for).
ACTIONS_REACHED: set[str] = set()

# The request handlers (loaded middleware chains) of the matrix test running now, by client class.
_handlers: dict[type, Any] = {}
_sharing = False

# The sessions of the test running now, by user and what the session is bound to (the user's
# password: a changed one signs the user out), each made outside any role's savepoint; and the
# sessions signed in inside a role's savepoint, to be made again outside it once it is rolled back.
_sessions: dict[tuple[Any, str], str] = {}
_to_keep: dict[tuple[Any, str], dict[str, Any]] = {}
# What the written-to folders held when a matrix of the test running now last found them, with
# copies of their files: the next matrix that finds them alike reuses the copies.
_snapshots: dict[Path, _Folder] = {}
_keep: Path | None = None


@contextmanager
def test_scope() -> Iterator[None]:
    """One test's sessions and folder copies, forgotten when it ends (tests/conftest.py wraps every
    test in it)."""
    global _keep
    try:
        yield
    finally:
        _sessions.clear()
        _to_keep.clear()
        _snapshots.clear()
        if _keep is not None:
            shutil.rmtree(_keep, ignore_errors=True)
            _keep = None


@contextmanager
def recorded() -> Iterator[None]:
    """Records the access-policy actions checked inside the block as reached by a permission
    matrix: check_matrix wraps every request in it, and so do the matrices that send their own
    requests (the tracking server's, tests/experiments/tracking/)."""
    with policy.recording_checks() as checked:
        yield
    ACTIONS_REACHED.update(checked)


def signed_in(user, *, api: bool = False) -> Client:
    """A fresh client (no cookies, no session) signed in as `user`, anonymous when None: an API
    client authenticated by force, or a browser-like client with a session.

    Within a matrix test its clients share one request handler: loading the middleware (WhiteNoise
    scans every static file) costs more than most requests. A handler keeps no state of its own
    beyond the user an API client forces, which is set for every client here.

    Within a matrix test a role signs in once: the first client of a user signs in (inside the role's
    savepoint), and the session is made again outside the savepoint once it is rolled back; every
    later client of that user is a fresh one given that session's cookie.
    """
    kind = APIClient if api else Client
    client = kind()
    if _sharing:
        client.handler = _handlers.setdefault(kind, client.handler)
    if api:
        client.force_authenticate(user=user)
    elif user is not None:
        bound = (user.pk, user.get_session_auth_hash())
        if _sharing and bound in _sessions and _session_exists(_sessions[bound]):
            client.cookies[settings.SESSION_COOKIE_NAME] = _sessions[bound]
        else:
            client.force_login(user)
            if _sharing and _reusable_sessions():
                _to_keep.setdefault(bound, dict(client.session.items()))
    return client


def _reusable_sessions() -> bool:
    """Sessions kept in the database only: a role's savepoint puts back what a request did to one.
    (The matrix empties the cache before each request: a session kept there would be lost.)"""
    return settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def _session_exists(key: str) -> bool:
    """Whether a kept session is still there: one the test itself rolled back (a matrix inside an
    atomic block of its own) must not turn its role into an anonymous visitor."""
    if import_module(settings.SESSION_ENGINE).SessionStore().exists(key):
        return True
    _sessions.pop(next(bound for bound, kept in _sessions.items() if kept == key))
    return False


def _keep_sessions() -> None:
    """Makes again, outside the savepoints, the sessions signed in inside the last one: the same
    data as signing in wrote (who, with which backend, bound to which password), under a new key,
    with nothing else of a sign-in (no signal, no new last sign-in time)."""
    engine = import_module(settings.SESSION_ENGINE)
    for bound, data in _to_keep.items():
        if bound not in _sessions:
            session: SessionBase = engine.SessionStore()
            session.update(data)
            session.save()
            _sessions[bound] = session.session_key
    _to_keep.clear()


@dataclass(frozen=True)
class Mismatch:
    role: str
    got: Any
    expected: Any
    detail: str


def check_matrix(
    *,
    route: str,
    visibility: str | None,
    expected: Mapping[str, Any],
    send: Callable[[str], HttpResponseBase],
    status_of: Callable[[HttpResponseBase], Any] = lambda response: response.status_code,
    also: Callable[[str, HttpResponseBase, Any], str | None] | None = None,
) -> None:
    """Send each role's request and compare what it gets with `expected` (role → answer).

    `send(role)` builds the role's client and sends the request; it runs inside the role's savepoint,
    so a per-role setup it does is rolled back with the request. `status_of` turns a response into
    what the table holds (a status code, "login"…). `also(role, response, expected)`, called when the
    status is right and still inside the savepoint, checks more (a body, or that a refused write
    changed nothing) and returns what is wrong, or None.
    """
    __tracebackhide__ = True  # a failure shows the test's line and the list of wrong cells
    mismatches = []
    with _shared_handlers(), _folders_as_built() as restore:
        for role, want in expected.items():
            _record(route, visibility, role, want)
            for cache in caches.all(initialized_only=True):
                cache.clear()
            try:
                with transaction.atomic(), recorded():
                    response = send(role)
                    got = status_of(response)
                    if got != want:
                        mismatches.append(Mismatch(role, got, want, _describe(response)))
                    elif problem := csp_problem(response):  # every page, whatever its status
                        mismatches.append(Mismatch(role, got, want, f"{problem}; {_describe(response)}"))
                    elif also is not None and (problem := also(role, response, want)):
                        mismatches.append(Mismatch(role, got, want, f"{problem}; {_describe(response)}"))
                    transaction.set_rollback(True)
            except Exception as error:  # a crash is one wrong cell: the other roles still run
                trace = "".join(traceback.format_exception(error)[-3:]).strip()
                mismatches.append(Mismatch(role, f"{type(error).__name__}: {error}", want, trace))
            restore()
            _keep_sessions()
    assert not mismatches, _report(route, visibility, len(expected), mismatches)


def check_routes(checks: Mapping[str, Callable[[], None]]) -> None:
    """Runs one check_matrix per route over a world built once (each role's request is rolled back,
    so every route sees the world as it was built), and reports every failing route at once."""
    __tracebackhide__ = True
    failures = []
    for name, check in checks.items():
        try:
            check()
        except AssertionError as failure:
            failures.append(f"[{name}] {failure}")
    assert not failures, "\n\n".join(failures)


@contextmanager
def _shared_handlers() -> Iterator[None]:
    global _sharing
    _handlers.clear()
    _sharing = True
    try:
        yield
    finally:
        _sharing = False
        _handlers.clear()


def _describe(response: HttpResponseBase) -> str:
    parts = []
    if response.has_header("Location"):
        parts.append(f"to {response['Location']}")
    if getattr(response, "streaming", False):
        parts.append("body streamed")
    else:
        body = response.content
        title = re.search(rb"<title>(.*?)</title>", body, re.S)
        if title:  # a page: its title, then its main part rather than the head every page shares
            parts.append(f"page {title.group(1).decode(errors='replace').strip()!r}")
            body = body[body.find(b"<main"):] if b"<main" in body else body
        parts.append(f"body {body[:EXCERPT]!r}")
    return ", ".join(parts)


def _report(route: str, visibility: str | None, cells: int, mismatches: list[Mismatch]) -> str:
    where = f"{route} ({visibility})" if visibility else route
    lines = [f"{len(mismatches)} of {cells} cells of {where} are not what the table says:"]
    for m in mismatches:
        lines.append(f"  {m.role}: got {m.got!r}, expected {m.expected!r} [{route}, {visibility or '-'}] — {m.detail}")
    return "\n".join(lines)


def _record(route: str, visibility: str | None, role: str, expected: Any) -> None:
    path = os.environ.get("PRAKRIYA_MATRIX_CELLS")
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "?::?").split(" ")[0]
    file, function = test.split("::")[0], test.split("::")[1].split("[")[0]
    with open(path, "a") as out:
        out.write(json.dumps([file, function, route, visibility or "-", role, str(expected)]) + "\n")


# --- Files ------------------------------------------------------------------------------------


def _written_folders() -> list[Path]:
    """The folders a request may write to, outermost only (the defaults nest them in DATA_DIR)."""
    candidates = [settings.DATA_DIR, settings.PRAKRIYA_EXPORT_DIR, settings.PRAKRIYA_DVC_ROOT]
    remote = str(settings.PRAKRIYA_DVC_REMOTE_URL)
    if "://" not in remote:  # a local DVC remote; an object store is nothing a test writes to
        candidates.append(remote)
    folders = sorted({Path(c).resolve() for c in candidates})
    return [f for f in folders if not any(o != f and o in f.parents for o in folders)]


Listing = dict[str, tuple]


def _listing(folder: Path) -> Listing | None:
    """Every entry under `folder` by relative path: ("dir", mode), ("link", target) or ("file",
    mode, size, modification time); None if the folder is absent. (A folder's own size and time
    change with its entries, which the listing shows anyway.)"""
    if not folder.is_dir():
        return None
    entries: Listing = {}
    stack = [(str(folder), "")]
    while stack:
        path, relative = stack.pop()
        with os.scandir(path) as scan:
            for entry in scan:
                name = os.path.join(relative, entry.name)
                if entry.is_symlink():
                    entries[name] = ("link", os.readlink(entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    entries[name] = ("dir", entry.stat(follow_symlinks=False).st_mode)
                    stack.append((entry.path, name))
                else:
                    status = entry.stat(follow_symlinks=False)
                    entries[name] = ("file", status.st_mode, status.st_size, status.st_mtime_ns)
    return entries


def _depth(name: str) -> int:
    return name.count(os.sep)


class _Folder:
    """A folder as the setup left it: its listing and a copy of each of its files (flat: making a
    tree of folders costs several times more than copying the few small files in them)."""

    def __init__(self, folder: Path, keep: Path):
        self.folder = folder
        self.listing = _listing(folder)
        self.copies: dict[str, Path] = {}
        for index, (name, entry) in enumerate((self.listing or {}).items()):
            if entry[0] == "file":
                self.copies[name] = keep / f"{index}"
                shutil.copyfile(folder / name, self.copies[name])

    def restore(self) -> None:
        now = _listing(self.folder)
        if now == self.listing:
            return
        if self.listing is None:
            shutil.rmtree(self.folder)
            return
        if now is None:
            self.folder.mkdir(parents=True)
            now = {}
        for name in sorted(now, key=_depth, reverse=True):  # what the request added, deepest first
            if self.listing.get(name, ("",))[0] != now[name][0]:
                if now[name][0] == "dir":
                    shutil.rmtree(self.folder / name)
                else:
                    (self.folder / name).unlink()
        for name, entry in sorted(self.listing.items(), key=lambda item: _depth(item[0])):
            if now.get(name) == entry:
                continue
            path = self.folder / name
            if entry[0] == "dir":
                path.mkdir(exist_ok=True)
                path.chmod(stat.S_IMODE(entry[1]))
                continue
            path.unlink(missing_ok=True)  # replaced rather than written over: it may be read-only
            if entry[0] == "link":
                path.symlink_to(entry[1])
            else:
                shutil.copyfile(self.copies[name], path)
                path.chmod(stat.S_IMODE(entry[1]))
                os.utime(path, ns=(entry[3], entry[3]))
        if _listing(self.folder) != self.listing:
            raise AssertionError(f"the matrix could not put {self.folder} back as the setup left it")


@contextmanager
def _folders_as_built() -> Iterator[Callable[[], None]]:
    """Keep the written-to folders as the setup left them; the callable puts back what a request
    changed (a new staging folder, a new export, a commit in a DVC repository…). The copies are made
    once per test: a later matrix of the test that finds a folder as the last one left it (every
    entry's kind, mode, size and modification time alike) reuses them."""
    global _keep
    if _keep is None:
        _keep = Path(tempfile.mkdtemp(prefix="matrix-files-"))
    folders = []
    for folder in _written_folders():
        kept = _snapshots.get(folder)
        if kept is None or _listing(folder) != kept.listing:
            copies = _keep / str(len(list(_keep.iterdir())))
            copies.mkdir()
            kept = _snapshots[folder] = _Folder(folder, copies)
        folders.append(kept)

    def restore() -> None:
        for folder in folders:
            folder.restore()

    yield restore
