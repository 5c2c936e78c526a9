"""A real Label Studio server for the interop tests, run from its own virtualenv.

Label Studio pins its own Django, so it never runs from the platform's .venv: it lives in
a virtualenv of its own, keyed by version in the user's cache (scripts/ensure_label_studio.sh
installs it; this fixture runs that script when the venv is missing). The server gets a fresh data folder with SQLite, a free port on 127.0.0.1,
no browser, and an environment with analytics, Sentry and the PyPI version check switched off and
a proxy that goes nowhere, so nothing it does reaches the internet.

Users (the admin at start, more through `server.add_user(email)`) are made with Label Studio's own
CLI, `label-studio init --username --password --user-token`, which sets a known legacy API token. LS 1.2x refuses legacy tokens unless the organization allows
them; the first `init` creates the organization with `--enable-legacy-api-token` (and the
LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN setting says the same).

Migrating a new SQLite database takes LS half a minute or more, so a migrated, user-less database
is kept in the venv as a template and copied for each test session.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

LABEL_STUDIO_VERSION = "1.23.2"  # the version scripts/ensure_label_studio.sh installs
REPO = Path(__file__).resolve().parents[1]
ENSURE_SCRIPT = REPO / "scripts" / "ensure_label_studio.sh"
# Where scripts/ensure_label_studio.sh puts it.
VENV = Path(
    os.environ.get("LABEL_STUDIO_VENV")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prakriya" / f"label-studio-{LABEL_STUDIO_VERSION}"
)
TEMPLATE = VENV / f"prakriya-template-db-{LABEL_STUDIO_VERSION}" / "label_studio.sqlite3"
INSTALL_TIMEOUT = 900
CLI_TIMEOUT = 300
START_TIMEOUT = 180
STOP_TIMEOUT = 15
ADMIN_EMAIL = "ls-admin@example.com"


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(data_dir: Path) -> dict[str, str]:
    # A clean environment: LS reads many plain names (USERNAME, PORT, HOST, DEBUG, DJANGO_DB, ...)
    # as settings, and the test run's DJANGO_SETTINGS_MODULE would make it load ours.
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(data_dir / "home"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # the log must show what LS said up to the moment it failed
        "LC_ALL": "C.UTF-8",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_SENTRY_DSN": "",
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
        "LABEL_STUDIO_CONVERTER_DOWNLOAD_RESOURCES": "false",
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # LS describes its own version with `git describe` in its package folder, which sits
        # inside this repository: point git at nothing so it falls back to the packaged version.
        "GIT_DIR": str(data_dir / "no-git"),
        "GIT_CEILING_DIRECTORIES": "/",
        # Anything that would still try the internet meets a closed local port instead.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def _run_cli(args: list[str], data_dir: Path, log_path: Path, what: str) -> None:
    (data_dir / "home").mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        shown = ["***" if previous in ("--password", "--user-token") else arg
                 for previous, arg in zip(["", *args[:-1]], args, strict=True)]
        log.write(f"\n$ label-studio {' '.join(shown)}\n")
        log.flush()
        try:
            completed = subprocess.run(
                [str(VENV / "bin" / "label-studio"), *args, "--data-dir", str(data_dir)],
                cwd=data_dir, env=_environment(data_dir), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, timeout=CLI_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"label-studio took over {CLI_TIMEOUT}s to {what}\n{_tail(log_path)}", pytrace=False)
    if completed.returncode != 0:
        pytest.fail(f"label-studio failed to {what} (exit {completed.returncode})\n{_tail(log_path)}", pytrace=False)


def _ensure_installed() -> None:
    if (VENV / "bin" / "label-studio").exists() and (VENV / f".installed-label-studio-{LABEL_STUDIO_VERSION}").exists():
        return
    try:
        completed = subprocess.run(
            ["bash", str(ENSURE_SCRIPT)], cwd=REPO, env={**os.environ, "LABEL_STUDIO_VENV": str(VENV)},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{ENSURE_SCRIPT.name} took over {INSTALL_TIMEOUT}s installing Label Studio", pytrace=False)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-4000:]
        pytest.fail(f"{ENSURE_SCRIPT.name} could not install Label Studio:\n{output}", pytrace=False)


def _ensure_template(log_path: Path) -> None:
    if TEMPLATE.exists():
        return
    building = TEMPLATE.parent / f"building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    # `init` without a username only migrates: no user, no organization.
    _run_cli(["init", "-q"], building, log_path, "migrate a template database")
    os.replace(building / "label_studio.sqlite3", TEMPLATE)
    shutil.rmtree(building, ignore_errors=True)


@dataclass(frozen=True)
class LabelStudioUser:
    email: str
    password: str
    api_key: str  # a legacy token


def _create_user(data_dir: Path, log_path: Path, email: str, *, first: bool = False) -> LabelStudioUser:
    # Hex, not token_urlsafe: a password starting with "-" would be read as an option by the CLI.
    user = LabelStudioUser(email=email, password=secrets.token_hex(16), api_key=secrets.token_hex(20))
    args = ["init", "-q", "--username", email, "--password", user.password, "--user-token", user.api_key]
    # The first user creates the organization, which decides whether legacy tokens work.
    _run_cli([*args, "--enable-legacy-api-token"] if first else args, data_dir, log_path, f"create the user {email}")
    return user


@dataclass
class LabelStudioServer:
    base_url: str
    api_key: str  # the admin's legacy token
    admin: LabelStudioUser
    data_dir: Path
    log_path: Path
    process: subprocess.Popen
    users: dict[str, LabelStudioUser] = field(default_factory=dict)

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def add_user(self, email: str) -> LabelStudioUser:
        """A user of the organization, made through LS's CLI as an operator would (once per email)."""
        if email not in self.users:
            self.users[email] = _create_user(self.data_dir, self.log_path, email)
        return self.users[email]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


def _answers_as_ours(base_url: str, api_key: str) -> bool:
    try:
        health = httpx.get(f"{base_url}/health", timeout=2)
        if health.status_code != 200 or health.json().get("status") != "UP":
            return False
        me = httpx.get(f"{base_url}/api/current-user/whoami", headers={"Authorization": f"Token {api_key}"},
                       timeout=5)
        return me.status_code == 200 and me.json().get("email") == ADMIN_EMAIL
    except (httpx.HTTPError, ValueError):
        return False


def _wait_until_up(process: subprocess.Popen, port: int, log_path: Path, api_key: str) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    base_url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Label Studio exited with {process.returncode} while starting\n{_tail(log_path)}",
                        pytrace=False)
        # LS moves to the next port by itself if ours got taken meanwhile; its log says where.
        found = re.search(r"Starting development server at http://127\.0\.0\.1:(\d+)/",
                          log_path.read_text(errors="replace"))
        if found:
            base_url = f"http://127.0.0.1:{found.group(1)}"
        # Our admin's token proves the server answering is the one this fixture started.
        if _answers_as_ours(base_url, api_key):
            return base_url
        time.sleep(0.25)
    pytest.fail(f"Label Studio did not answer at {base_url} within {START_TIMEOUT}s\n{_tail(log_path)}",
                pytrace=False)


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory) -> Iterator[LabelStudioServer]:
    root = tmp_path_factory.mktemp("label-studio")
    data_dir, log_path = root / "data", root / "label-studio.log"
    data_dir.mkdir()
    _ensure_installed()
    _ensure_template(log_path)
    shutil.copyfile(TEMPLATE, data_dir / "label_studio.sqlite3")

    admin = _create_user(data_dir, log_path, ADMIN_EMAIL, first=True)
    port = _free_port()
    started = time.monotonic()
    log = log_path.open("a")
    log.write("\n$ label-studio start\n")
    log.flush()
    process = subprocess.Popen(
        [str(VENV / "bin" / "label-studio"), "start", "--no-browser", "--data-dir", str(data_dir),
         "--internal-host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
        cwd=data_dir, env=_environment(data_dir), stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        base_url = _wait_until_up(process, port, log_path, admin.api_key)
        with log_path.open("a") as note:
            note.write(f"\n# prakriya: Label Studio answered after {time.monotonic() - started:.1f}s\n")
        yield LabelStudioServer(
            base_url=base_url, api_key=admin.api_key, admin=admin, data_dir=data_dir,
            log_path=log_path, process=process, users={ADMIN_EMAIL: admin},
        )
    finally:
        _stop(process)
        log.close()
