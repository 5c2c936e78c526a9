"""The one-machine set-up: a real Celery worker (with the beat scheduler embedded) plus the web
server, started and stopped together.

The worker is a separate process, exactly as in production; only the broker differs (by default
kombu's SQLAlchemy transport on a SQLite file in the data folder instead of Redis). The web server
is gunicorn, the production server compose runs, as a second process: threaded workers
(WEB_CONCURRENCY processes, 2 by default, of WEB_THREADS threads, 4 by default), so that a slow
page does not hold up the others and HTTP keep-alive works, and --preload, so the application
is imported once before the workers fork and none of them answers its first request cold. This
command watches both processes and stops both when either stops or it is told to.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

QUEUES = "default,training,export"
# How long a worker gets to finish its current task on shutdown before it is killed. An
# unfinished job is not lost: its message was never acknowledged, and the sweeper re-queues it.
WORKER_STOP_SECONDS = 15


def worker_command(*, schedule_file: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "prakriya", "worker", "-B",
        "-Q", QUEUES, "--concurrency", "1", "--loglevel", "INFO",
        "--hostname", "prakriya-serve@%h", "--schedule", schedule_file,
    ]


def _die_with_parent() -> None:
    # Linux only: if this process is killed outright (no chance to run its finally block),
    # the kernel sends the worker SIGTERM instead of leaving it orphaned on the broker.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def web_command(*, bind: str) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "prakriya.wsgi", "--bind", bind,
        "--workers", os.environ.get("WEB_CONCURRENCY") or "2",
        "--worker-class", "gthread", "--threads", os.environ.get("WEB_THREADS") or "4",
        "--timeout", "60", "--graceful-timeout", "10", "--access-logfile", "-", "--preload",
    ]


class Command(BaseCommand):
    help = (
        "Run Prakriya on one machine: a Celery worker with embedded beat on queues "
        f"{QUEUES}, then the web server. Ctrl-C stops both."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000)")

    def handle(self, *args, host: str, port: int, **options) -> None:
        self._check_port_free(host, port)
        # Hashed, compressed copies of the static files (settings.STORAGES): pages name them, and
        # WhiteNoise serves them brotli/gzip with a year's immutable caching.
        self.stdout.write("Collecting static files...")
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("check")
        bind = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
        worker = self._start(worker_command(schedule_file=settings.CELERY_BEAT_SCHEDULE_FILENAME), "worker")
        web = None

        def on_stop_signal(signum, frame):
            raise KeyboardInterrupt

        # Installed explicitly: a shell that starts us in the background sets SIGINT to
        # "ignore", and `kill` sends SIGTERM; either must stop both processes.
        previous = {sig: signal.signal(sig, on_stop_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        stopped = None
        try:
            web = self._start(web_command(bind=bind), "web server")
            self._wait_listening(host, port, web)
            self.stdout.write(self._banner(host, port, worker.pid))
            while stopped is None:
                time.sleep(0.5)
                for name, process in (("The Celery worker", worker), ("The web server", web)):
                    if stopped is None and process.poll() is not None:
                        stopped = f"{name} exited (code {process.returncode})"
        except KeyboardInterrupt:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if web is not None:
                self._stop(web, "the web server")
            self._stop(worker, "the worker (warm shutdown)")
        if stopped is not None:
            raise CommandError(f"{stopped}; see its log above")

    def _wait_listening(self, host: str, port: int, web: subprocess.Popen) -> None:
        address = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host.strip("[]") == "::" else host.strip("[]")
        while web.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
                return
            time.sleep(0.2)

    def _check_port_free(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host.strip("[]"), port))
            except OSError as exc:
                raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc

    def _start(self, command: list[str], what: str) -> subprocess.Popen:
        self.stdout.write(f"Starting the {what}: " + " ".join(command[1:]))
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")
        return subprocess.Popen(
            command,
            cwd=Path(settings.BASE_DIR),
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the terminal reaches only this process, which then
            # stops each process once, in order, instead of all of them racing to shut down.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _stop(self, process: subprocess.Popen, what: str) -> None:
        if process.poll() is None:
            self.stdout.write(f"Stopping {what}...")
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout=WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{what[0].upper()}{what[1:]} did not stop in time; killing it.")
        # Whatever is left of its process group (pool children, web workers) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def _banner(self, host: str, port: int, worker_pid: int) -> str:
        shown_host = f"[{host.strip('[]')}]" if ":" in host else host
        database = settings.DATABASES["default"]
        lines = [
            "",
            "=" * 72,
            f"Prakriya is running at http://{shown_host}:{port}/",
            f"  data folder : {settings.DATA_DIR}",
            f"  database    : {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}",
            f"  broker      : {_redact(settings.CELERY_BROKER_URL)}",
            f"  worker      : pid {worker_pid}, queues {QUEUES}, beat embedded",
        ]
        if host in ("0.0.0.0", "::", "[::]"):
            lines.append("  listening on all interfaces: add this machine's name to ALLOWED_HOSTS")
        logins = _demo_logins()
        if logins:
            lines.append("")
            lines.append("Demo logins:")
            lines.extend(f"  {user:<11} password {password:<15} {what}" for user, password, what in logins)
        elif logins is None:
            lines.append("  (the database is not ready: run `python manage.py migrate` first)")
        lines += ["", "Press Ctrl-C to stop the web server and the worker.", "=" * 72, ""]
        return "\n".join(lines)


def _redact(url: str) -> str:
    # Never print a broker password in a terminal that may be shared or recorded.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        if ":" in credentials:
            return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


def _demo_logins() -> list[tuple[str, str, str]] | None:
    """Asks the installed seed_demo command (if any app provides one) which demo logins work.
    Looked up through Django's command registry so prakriya/ imports no app."""
    app_name = get_commands().get("seed_demo")
    if app_name is None:
        return []
    provider = getattr(load_command_class(app_name, "seed_demo"), "demo_logins", None)
    if provider is None:
        return []
    try:
        return provider()
    except DatabaseError:
        return None
