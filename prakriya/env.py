"""How an environment variable's text becomes a setting: typed, bounded, and a loud failure at
start-up for a bad value. prakriya/settings.py is the one place that reads the environment, with
these."""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc
    if not (value >= minimum and (maximum is None or value <= maximum)):
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise ImproperlyConfigured(f"{name} must be {bounds}, got {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def generated_key_file(path: Path, make) -> str:
    """A per-installation key kept in the data folder, written once: written whole under another
    name, then linked into place, so processes starting together (web and worker, parallel test
    processes) all end up reading the one key that won."""
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        draft.write_text(make())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()




def fernet_keys(raw: str, name: str) -> list[str]:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for key in keys:
        try:
            ok = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, ValueError, UnicodeEncodeError):
            ok = False
        if not ok:
            raise ImproperlyConfigured(
                f"{name} must be Fernet keys (32 bytes, URL-safe base64), comma-separated; "
                "make one with: python -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
            )
    if not keys:
        raise ImproperlyConfigured(f"{name} holds no key")
    return keys


def env_int_map(name: str, *, minimum: int = 1) -> dict[str, int]:
    """`kind=seconds,kind=seconds` → {kind: seconds}; a malformed entry stops start-up."""
    raw = os.environ.get(name, "").strip()
    found: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not re.fullmatch(r"\d+", value.strip()) or int(value) < minimum:
            raise ImproperlyConfigured(f"{name} must list name=integer (>= {minimum}) pairs, got {entry!r}")
        found[key.strip()] = int(value)
    return found


def env_rate(name: str, default: str) -> str:
    """A rate as django-ratelimit reads it: <count>/<period>, the period in s, m, h or d with an
    optional multiple (`5/h`, `100/d`, `10/15m`)."""
    value = env_str(name, default)
    if not re.fullmatch(r"\d+/\d*[smhd]", value) or int(value.split("/")[0]) < 1:
        raise ImproperlyConfigured(f"{name} must be a rate such as 10/h or 100/d (at least 1), got {value!r}")
    return value
