"""A thin client over label-studio-sdk 2.x for pushing a campaign to a Label Studio server and
pulling back the annotations made there. Formats live in writer.py and reader.py; this module only talks
HTTP and turns every failure into a `LabelStudioSyncError` whose message says what to fix.

Authentication: `api_key` is either a legacy token (sent as `Authorization: Token ...`; the LS
organization must have legacy tokens enabled, which LS 1.2x turns off by default) or a personal
access token (a JWT refresh token, exchanged for access tokens by the SDK).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import httpx
import pydantic

from datasets.annotation.labelstudio.reader import parse_export
from datasets.annotation.labelstudio.records import ImportedAnnotation, LabelStudioFormatError, ParsedExport

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

DEFAULT_TIMEOUT = 30.0
IMPORT_BATCH = 500  # tasks per import request; LS itself takes up to 250k tasks / 200 MB


class LabelStudioSyncError(RuntimeError):
    """Talking to Label Studio failed; the message is meant for the person who configured it."""


class LabelStudioUnreachable(LabelStudioSyncError):
    pass


class LabelStudioAuthError(LabelStudioSyncError):
    pass


class LabelStudioRequestError(LabelStudioSyncError):
    """Label Studio answered, but refused the request (e.g. an invalid labelling config)."""

    def __init__(self, message: str, status_code: int | None = None):
        self.status_code = status_code
        super().__init__(message)


def _detail(body) -> str:
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message") or ""
        errors = body.get("validation_errors")
        if errors:
            detail = f"{detail}: {json.dumps(errors, ensure_ascii=False)}" if detail else json.dumps(errors)
        return str(detail or json.dumps(body, ensure_ascii=False))[:500]
    text = str(body or "").strip()
    if text.startswith("<"):  # an HTML page: a proxy, a login page, not LS's API
        return "an HTML page instead of an API answer"
    return text[:500]


@contextlib.contextmanager
def _calls(base_url: str, what: str) -> Iterator[None]:
    # The SDK is imported here, on first use, not with the module: it takes two seconds to import
    # (pandas and its generated clients), which every web and worker process would pay at start.
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
        raise LabelStudioUnreachable(f"cannot reach Label Studio at {base_url} to {what}: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise LabelStudioUnreachable(f"Label Studio at {base_url} did not answer in time to {what}") from exc
    except httpx.HTTPError as exc:
        raise LabelStudioSyncError(f"could not {what} on Label Studio at {base_url}: {exc}") from exc
    except ApiError as exc:
        detail = _detail(exc.body)
        if exc.status_code in (401, 403):
            raise LabelStudioAuthError(
                f"Label Studio at {base_url} refused the API key (HTTP {exc.status_code}) to {what}: {detail}"
            ) from exc
        if exc.status_code == 404:
            raise LabelStudioRequestError(
                f"Label Studio at {base_url} has no such object to {what}: {detail}", 404
            ) from exc
        status = f"HTTP {exc.status_code}" if exc.status_code else "no status"
        raise LabelStudioRequestError(
            f"Label Studio at {base_url} refused to {what} ({status}): {detail}", exc.status_code
        ) from exc
    except (pydantic.ValidationError, json.JSONDecodeError) as exc:
        raise LabelStudioRequestError(
            f"the server at {base_url} did not answer like Label Studio when asked to {what}"
        ) from exc


def _client(base_url: str, api_key: str, timeout: float) -> tuple[LabelStudio, str]:
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        raise LabelStudioSyncError(f"the Label Studio URL must start with http:// or https://, not {base_url!r}")
    if not urlsplit(base_url).hostname:
        raise LabelStudioSyncError(f"the Label Studio URL {base_url!r} has no host")
    if not isinstance(api_key, str) or not api_key.strip():
        raise LabelStudioAuthError("a Label Studio API key is needed (Account & Settings in Label Studio)")
    base_url = base_url.rstrip("/")
    with _calls(base_url, "read the API key"):  # the SDK decodes JWT keys up front
        from label_studio_sdk import LabelStudio

        client = LabelStudio(base_url=base_url, api_key=api_key.strip(), timeout=timeout)
    return client, base_url


def whoami(base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The email of the LS user the key belongs to: a cheap check of URL and key together."""
    client, base_url = _client(base_url, api_key, timeout)
    with _calls(base_url, "identify the API key's user"):
        return client.users.whoami().email or ""


def create_project(
    base_url: str, api_key: str, title: str, label_config: str, *, description: str = "",
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Creates an LS project; LS validates the config and refuses a bad one (LabelStudioRequestError)."""
    client, base_url = _client(base_url, api_key, timeout)
    with _calls(base_url, "create a project"):
        project = client.projects.create(title=title, label_config=label_config, description=description)
    if not isinstance(project.id, int):
        raise LabelStudioRequestError(f"Label Studio at {base_url} created a project but gave no id")
    return project.id


def get_label_config(base_url: str, api_key: str, project_id: int, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    client, base_url = _client(base_url, api_key, timeout)
    with _calls(base_url, f"read project {project_id}"):
        return client.projects.get(id=project_id).label_config or ""


def push_tasks(
    base_url: str, api_key: str, project_id: int, tasks: Sequence[dict], *, timeout: float = DEFAULT_TIMEOUT
) -> list[int]:
    """Imports tasks (see `writer.task_payloads`) in bulk; returns LS task ids in task order."""
    for index, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise LabelStudioFormatError(f"tasks[{index}] is not a task: expected {{'data': {{...}}}}")
    client, base_url = _client(base_url, api_key, timeout)
    task_ids: list[int] = []
    for first in range(0, len(tasks), IMPORT_BATCH):
        batch = list(tasks[first : first + IMPORT_BATCH])
        with _calls(base_url, f"import {len(batch)} tasks into project {project_id}"):
            response = client.projects.import_tasks(project_id, request=batch, return_task_ids=True)
        ids = response.task_ids
        if ids is None or len(ids) != len(batch):
            # Enterprise imports asynchronously and answers with an import id only.
            raise LabelStudioRequestError(
                f"Label Studio at {base_url} did not return the ids of the {len(batch)} imported tasks "
                f"(got {ids!r}); only synchronous (Community edition) imports are supported"
            )
        task_ids.extend(ids)
    return task_ids


def delete_tasks(
    base_url: str, api_key: str, task_ids: Sequence[int], *, timeout: float = DEFAULT_TIMEOUT
) -> int:
    """Deletes tasks (with their annotations) from Label Studio; a task already gone counts as
    deleted. Returns how many were asked for."""
    client, base_url = _client(base_url, api_key, timeout)
    for task_id in task_ids:
        try:
            with _calls(base_url, f"delete task {task_id}"):
                client.tasks.delete(id=task_id)
        except LabelStudioRequestError as exc:
            if exc.status_code != 404:
                raise
    return len(task_ids)


def user_emails(base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[int, str]:
    """LS user id -> email, for the users the key may list."""
    client, base_url = _client(base_url, api_key, timeout)
    with _calls(base_url, "list users"):
        users = client.users.list()
    return {user.id: user.email for user in users if isinstance(user.id, int) and user.email}


def pull_export(
    base_url: str,
    api_key: str,
    project_id: int,
    *,
    task_type: str,
    from_name: str | None = None,
    label_names: Sequence[str] | None = None,
    offsets: Literal["auto", "codepoints", "utf16"] = "auto",
    timeout: float = DEFAULT_TIMEOUT,
) -> ParsedExport:
    """Downloads the project's JSON export and parses it (`reader.parse_export`); annotators
    known only by id get their email from LS's users (None if LS no longer has that user)."""
    client, base_url = _client(base_url, api_key, timeout)
    with _calls(base_url, f"export project {project_id}"):
        chunks = client.projects.exports.download_sync(
            project_id, export_type="JSON", download_all_tasks=True, download_resources=False
        )
        payload = b"".join(chunks)
    try:
        parsed = parse_export(
            payload, task_type=task_type, from_name=from_name, label_names=label_names, offsets=offsets
        )
    except LabelStudioFormatError as exc:
        raise LabelStudioRequestError(
            f"the export of project {project_id} from Label Studio at {base_url} does not fit the campaign: {exc}"
        ) from exc
    if any(a.annotator_email is None and a.annotator_id is not None for a in parsed.annotations):
        emails = user_emails(base_url, api_key, timeout=timeout)
        parsed = replace(
            parsed,
            annotations=[
                a if a.annotator_email or a.annotator_id is None
                else replace(a, annotator_email=emails.get(a.annotator_id))
                for a in parsed.annotations
            ],
        )
    return parsed


def pull_annotations(
    base_url: str,
    api_key: str,
    project_id: int,
    *,
    task_type: str,
    from_name: str | None = None,
    label_names: Sequence[str] | None = None,
    offsets: Literal["auto", "codepoints", "utf16"] = "auto",
    timeout: float = DEFAULT_TIMEOUT,
) -> list[ImportedAnnotation]:
    """The annotations of an LS project as records in our format (see `pull_export`)."""
    return pull_export(
        base_url, api_key, project_id, task_type=task_type, from_name=from_name, label_names=label_names,
        offsets=offsets, timeout=timeout,
    ).annotations
