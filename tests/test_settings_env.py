"""Settings read the environment in one place and fail loudly on bad values. Each case starts a
fresh Python process, because settings are read once per process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "conn_max_age": db["CONN_MAX_AGE"],
    "broker": s.CELERY_BROKER_URL, "transport_options": s.CELERY_BROKER_TRANSPORT_OPTIONS,
    "data_dir": str(s.DATA_DIR), "secret_key": s.SECRET_KEY, "debug": s.DEBUG,
    "mlflow": s.PRAKRIYA_MLFLOW_BACKEND_URI,
    "mlflow_artifacts": s.PRAKRIYA_MLFLOW_ARTIFACTS_DIR, "dvc_root": str(s.PRAKRIYA_DVC_ROOT),
    "static_root": str(s.STATIC_ROOT), "beat_schedule": s.CELERY_BEAT_SCHEDULE_FILENAME,
    "allowed_hosts": s.ALLOWED_HOSTS, "max_attempts": s.PRAKRIYA_JOB_MAX_ATTEMPTS,
    "acks_late": s.CELERY_TASK_ACKS_LATE, "prefetch": s.CELERY_WORKER_PREFETCH_MULTIPLIER,
    "sealed_keys": s.PRAKRIYA_SEALED_KEYS,
}))
"""

_READ_BY_SETTINGS = {
    "DATABASE_URL", "DATABASE_CONN_MAX_AGE", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "MLFLOW_TRACKING_URI", "SESSION_COOKIE_SECURE", "USE_X_FORWARDED_PROTO", "LOG_LEVEL", "STATIC_ROOT",
    "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL",
    "DEFAULT_FROM_EMAIL",
}


def _clean_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items()
        if name not in _READ_BY_SETTINGS and not name.startswith(("PRAKRIYA_", "CELERY_", "SECURE_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="prakriya.settings", PRAKRIYA_DATA_DIR=str(data_dir))
    env.update(overrides)
    return env


def _load_settings(data_dir: Path, **overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=_clean_env(data_dir, **overrides),
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def _settings(data_dir: Path, **overrides: str) -> dict:
    result = _load_settings(data_dir, **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("SESSION_COOKIE_SECURE", "sometimes"),
        ("USE_X_FORWARDED_PROTO", "2"),
        ("CELERY_VISIBILITY_TIMEOUT", "an hour"),
        ("CELERY_VISIBILITY_TIMEOUT", "0"),
        ("PRAKRIYA_JOB_MAX_ATTEMPTS", "0"),
        ("PRAKRIYA_JOB_STALE_SECONDS", "1"),
        ("PRAKRIYA_MAX_REQUEST_BYTES", "12"),
        ("DATABASE_CONN_MAX_AGE", "-1"),
        ("SECURE_HSTS_SECONDS", "forever"),
        # The platform reads MLflow's store directly: a tracking server's address is not a store.
        ("PRAKRIYA_MLFLOW_BACKEND_URI", "http://mlflow:5000"),
        ("PRAKRIYA_MLFLOW_ARTIFACTS_DIR", "ftp://files.example/mlflow"),
        # Not a Fernet key: too short, not base64.
        ("PRAKRIYA_SEALED_KEY", "c2hvcnQ="),
        ("PRAKRIYA_SEALED_KEY", "not base64 at all!"),
    ],
)
def test_bad_value_stops_start_up_with_improperly_configured(tmp_path, name, value):
    result = _load_settings(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = _load_settings(tmp_path, PRAKRIYA_REQUIRE_SECRET_KEY="true")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "secret_key.txt").exists()


SEALED_KEY = "aTH9cN8TL5fQ6L1g5r8sQy1t3bX7g0Jm2dH4kP6wZ0E="


def test_production_with_secret_key_uses_it(tmp_path):
    values = _settings(
        tmp_path, PRAKRIYA_REQUIRE_SECRET_KEY="true", SECRET_KEY="k" * 60, PRAKRIYA_SEALED_KEY=SEALED_KEY
    )
    assert values["secret_key"] == "k" * 60
    assert values["sealed_keys"] == [SEALED_KEY]


def test_production_without_a_sealed_key_refuses_to_start(tmp_path):
    result = _load_settings(tmp_path, PRAKRIYA_REQUIRE_SECRET_KEY="true", SECRET_KEY="k" * 60)
    assert result.returncode != 0
    assert "PRAKRIYA_SEALED_KEY must be set" in result.stderr
    assert not (tmp_path / "sealed_key.txt").exists()


def test_the_sealed_key_is_generated_once_apart_from_the_secret_key_and_rotates(tmp_path):
    first = _settings(tmp_path)["sealed_keys"]
    assert first == _settings(tmp_path)["sealed_keys"] and len(first) == 1
    assert (tmp_path / "sealed_key.txt").stat().st_mode & 0o077 == 0
    # Rotation: the new key encrypts, the old one still decrypts.
    rotated = _settings(tmp_path, PRAKRIYA_SEALED_KEY=f"{SEALED_KEY}, {first[0]}")["sealed_keys"]
    assert rotated == [SEALED_KEY, first[0]]


def test_defaults_keep_database_and_broker_in_the_data_folder(tmp_path):
    values = _settings(tmp_path)
    data_dir = tmp_path.resolve()
    assert values["data_dir"] == str(data_dir)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(data_dir / "prakriya.sqlite3")
    assert values["broker"] == f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}"
    assert values["mlflow"] == f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}"
    assert values["mlflow_artifacts"] == str(data_dir / "mlflow" / "artifacts")
    assert values["dvc_root"] == str(data_dir / "dvc")
    assert values["static_root"] == str(data_dir / "static")
    assert values["beat_schedule"] == str(data_dir / "celerybeat-schedule")
    assert values["debug"] is False
    assert values["conn_max_age"] == 0
    assert values["max_attempts"] == 3
    # The reliability settings the job machinery relies on.
    assert values["acks_late"] is True and values["prefetch"] == 1


def test_generated_secret_key_is_private_and_stable(tmp_path):
    first = _settings(tmp_path)["secret_key"]
    key_file = tmp_path / "secret_key.txt"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 50
    assert _settings(tmp_path)["secret_key"] == first


def test_external_database_and_broker_come_from_the_environment(tmp_path):
    values = _settings(
        tmp_path,
        DATABASE_URL="postgres://prakriya:pw@db.example:5433/prakriya",
        DATABASE_CONN_MAX_AGE="60",
        CELERY_BROKER_URL="redis://cache.example:6379/2",
        CELERY_VISIBILITY_TIMEOUT="7200",
        CELERY_KEY_PREFIX="site-a:",
        ALLOWED_HOSTS="prakriya.example.org, www.prakriya.example.org",
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "prakriya"
    assert values["conn_max_age"] == 60
    assert values["broker"] == "redis://cache.example:6379/2"
    assert values["transport_options"]["visibility_timeout"] == 7200
    assert values["transport_options"]["global_keyprefix"] == "site-a:"
    assert values["allowed_hosts"] == ["prakriya.example.org", "www.prakriya.example.org"]


_BROKER_ROUND_TRIP = """
import django
django.setup()
from prakriya.celery import app
with app.connection_for_write() as conn:
    queue = conn.SimpleQueue("settings-probe")
    queue.put({"hello": "broker"})
    message = queue.get(timeout=10)
    message.ack()
    queue.close()
print(message.payload["hello"])
"""


def test_default_broker_settings_work_with_the_embedded_sqlite_broker(tmp_path):
    # The transport options in settings are handed to the broker's transport as they are: for
    # the SQLAlchemy transport that means create_engine(), which rejects Redis-only options.
    result = subprocess.run(
        [sys.executable, "-c", _BROKER_ROUND_TRIP], cwd=REPO, env=_clean_env(tmp_path),
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "broker"
    assert (tmp_path / "broker.sqlite3").exists()


# --- HTTPS, HSTS, sign-in throttling, e-mail ----------------------------------------------------

_SECURITY_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
s.ROOT_URLCONF = "tests.settings_probe_urls"  # the headers are the middleware's, whatever the page
response = Client().get("/accounts/login/", secure=True)
print(json.dumps({
    "hsts_seconds": s.SECURE_HSTS_SECONDS, "hsts_subdomains": s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "hsts_preload": s.SECURE_HSTS_PRELOAD, "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "session_secure": s.SESSION_COOKIE_SECURE, "csrf_secure": s.CSRF_COOKIE_SECURE,
    "hsts_header": response.headers.get("Strict-Transport-Security"),
    "csp_header": response.headers.get("Content-Security-Policy"),
    "failure_limit": s.AXES_FAILURE_LIMIT, "cooloff_seconds": s.AXES_COOLOFF_TIME.total_seconds(),
    "proxy_count": s.PRAKRIYA_PROXY_COUNT, "link_hours": s.PRAKRIYA_SIGNUP_LINK_HOURS,
    "email_backend": s.EMAIL_BACKEND, "email_port": s.EMAIL_PORT, "from": s.DEFAULT_FROM_EMAIL,
}))
"""


def _security(data_dir: Path, **overrides: str) -> dict:
    env = _clean_env(data_dir, **overrides)
    env.setdefault("ALLOWED_HOSTS", "testserver")
    result = subprocess.run(
        [sys.executable, "-c", _SECURITY_PROBE], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plain_http_by_default_no_hsts(tmp_path):
    values = _security(tmp_path)
    assert values["hsts_seconds"] == 0 and values["hsts_header"] is None
    assert values["ssl_redirect"] is False and values["session_secure"] is False
    assert values["csp_header"] is not None  # the policy holds with or without HTTPS


def test_https_turns_on_a_years_hsts_the_redirect_and_secure_cookies(tmp_path):
    values = _security(tmp_path, PRAKRIYA_HTTPS="true")
    assert values["hsts_seconds"] == 31_536_000
    assert values["hsts_header"] == "max-age=31536000; includeSubDomains; preload"
    assert values["ssl_redirect"] is True
    assert values["session_secure"] is True and values["csrf_secure"] is True


@pytest.mark.parametrize(
    ("overrides", "header", "redirect"),
    [
        ({"SECURE_HSTS_SECONDS": "600"}, "max-age=600; includeSubDomains; preload", True),
        ({"SECURE_HSTS_SECONDS": "0"}, None, True),  # an operator may turn HSTS off
        ({"SECURE_SSL_REDIRECT": "false"}, "max-age=31536000; includeSubDomains; preload", False),
        ({"DEBUG": "true"}, None, False),  # never while debugging
    ],
)
def test_https_defaults_can_be_overridden(tmp_path, overrides, header, redirect):
    values = _security(tmp_path, PRAKRIYA_HTTPS="true", **overrides)
    assert values["hsts_header"] == header
    assert values["ssl_redirect"] is redirect


def test_hsts_can_be_sent_without_prakriya_https_if_asked(tmp_path):
    assert _security(tmp_path, SECURE_HSTS_SECONDS="300")["hsts_header"] == "max-age=300; includeSubDomains; preload"


def test_sign_in_throttling_and_email_defaults(tmp_path):
    values = _security(tmp_path)
    assert values["failure_limit"] == 5 and values["cooloff_seconds"] == 15 * 60
    assert values["proxy_count"] == 0 and values["link_hours"] == 48
    # Without a mail server, messages go to the console log.
    assert values["email_backend"] == "django.core.mail.backends.console.EmailBackend"


def test_sign_in_throttling_and_email_from_the_environment(tmp_path):
    values = _security(
        tmp_path, PRAKRIYA_LOGIN_FAILURE_LIMIT="10", PRAKRIYA_LOGIN_COOLOFF_MINUTES="60", PRAKRIYA_PROXY_COUNT="1",
        PRAKRIYA_SIGNUP_LINK_HOURS="2", EMAIL_HOST="smtp.example.org", EMAIL_PORT="465", EMAIL_USE_TLS="false",
        EMAIL_USE_SSL="true", DEFAULT_FROM_EMAIL="Prakriya <noreply@example.org>",
    )
    assert values["failure_limit"] == 10 and values["cooloff_seconds"] == 3600
    assert values["proxy_count"] == 1 and values["link_hours"] == 2
    assert values["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["email_port"] == 465 and values["from"] == "Prakriya <noreply@example.org>"


@pytest.mark.parametrize(
    ("name", "value", "others"),
    [
        ("PRAKRIYA_LOGIN_FAILURE_LIMIT", "0", {}),
        ("PRAKRIYA_LOGIN_FAILURE_LIMIT", "five", {}),
        ("PRAKRIYA_LOGIN_COOLOFF_MINUTES", "0", {}),
        ("PRAKRIYA_PROXY_COUNT", "-1", {}),
        ("PRAKRIYA_SIGNUP_LINK_HOURS", "0", {}),
        ("PRAKRIYA_HTTPS", "sure", {}),
        ("SECURE_SSL_REDIRECT", "perhaps", {}),
        ("EMAIL_PORT", "smtp", {}),
        ("EMAIL_USE_SSL", "true", {"EMAIL_USE_TLS": "true"}),
    ],
)
def test_bad_security_values_stop_start_up(tmp_path, name, value, others):
    result = _load_settings(tmp_path, **{name: value, **others})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr
