"""The fair-use settings read the environment like every other: documented defaults, and a bad
value stops start-up naming the variable (each case is a fresh Python process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.test_settings_env import REPO, _clean_env, _load_settings

_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "limits": s.PRAKRIYA_JOB_TIME_LIMITS, "default_limit": s.PRAKRIYA_JOB_TIME_LIMIT_SECONDS,
    "grace": s.PRAKRIYA_JOB_TIME_LIMIT_GRACE_SECONDS, "per_project": s.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT,
    "per_user": s.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER, "epochs": s.PRAKRIYA_TRAINING_MAX_EPOCHS,
    "creators": s.PRAKRIYA_PROJECT_CREATORS, "rates": s.PRAKRIYA_RATE_LIMITS, "rates_on": s.RATELIMIT_ENABLE,
    "cache": s.CACHES["default"],
}))
"""


def _settings(tmp_path, **overrides: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=_clean_env(tmp_path, **overrides),
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults(tmp_path):
    found = _settings(tmp_path)
    assert found["limits"] == {} and found["default_limit"] == 3600 and found["grace"] == 60
    assert (found["per_project"], found["per_user"], found["epochs"]) == (32, 16, 1000)
    assert found["creators"] == "anyone" and found["rates_on"] is True
    assert found["rates"] == {"uploads": "30/h", "jobs": "60/h", "profiles": "10/h", "signups": "5/h"}
    # One machine: a diskcache folder in the data folder, shared by the web server and the worker.
    assert found["cache"]["BACKEND"] == "diskcache.DjangoCache"
    assert found["cache"]["LOCATION"] == str(tmp_path.resolve() / "cache")


def test_values_from_the_environment(tmp_path):
    found = _settings(
        tmp_path, PRAKRIYA_JOB_TIME_LIMITS="experiments_train=14400, dataset_profile=600",
        PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER="0", PRAKRIYA_PROJECT_CREATORS="Staff",
        PRAKRIYA_RATE_LIMIT_JOBS="100/d", PRAKRIYA_CACHE_URL="redis://redis:6379/1",
    )
    assert found["limits"] == {"experiments_train": 14400, "dataset_profile": 600}
    assert found["per_user"] == 0 and found["creators"] == "staff" and found["rates"]["jobs"] == "100/d"
    assert found["cache"] == {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                              "LOCATION": "redis://redis:6379/1"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PRAKRIYA_JOB_TIME_LIMIT_SECONDS", "0"),
        ("PRAKRIYA_JOB_TIME_LIMITS", "experiments_train"),
        ("PRAKRIYA_JOB_TIME_LIMITS", "experiments_train=two hours"),
        ("PRAKRIYA_JOB_TIME_LIMITS", "experiments_train=0"),
        ("PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT", "-1"),
        ("PRAKRIYA_TRAINING_MAX_EPOCHS", "0"),
        ("PRAKRIYA_PROJECT_CREATORS", "admins"),
        ("PRAKRIYA_RATE_LIMIT_UPLOADS", "many"),
        ("PRAKRIYA_RATE_LIMIT_SIGNUPS", "0/h"),
        ("PRAKRIYA_RATE_LIMIT_ENABLED", "sometimes"),
        ("PRAKRIYA_CACHE_URL", "memcached://cache:11211"),
        ("PRAKRIYA_CACHE_URL", "file://relative/folder"),
    ],
)
def test_bad_value_stops_start_up(tmp_path, name, value):
    result = _load_settings(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
