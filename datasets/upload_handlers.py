"""Size caps applied while an upload streams in, before any of it is stored.

Django writes an uploaded file to a temporary file as it arrives; ingest checks its size only
once it is complete. A handler first in the chain stops a file at the cap, so an upload far over
it never fills the disk. The handler must be installed before the body is parsed, which the CSRF
middleware would otherwise do: `capped_upload` exempts the outer view from the middleware and
checks CSRF itself, after installing the handler (Django's documented way to change upload
handlers in a view).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from datasets.ingest.limits import Limits, human_bytes

# The multipart envelope and a form's other fields, on top of the file itself.
FORM_OVERHEAD = 64 * 1024


class SizeCapHandler(FileUploadHandler):
    """Refuses any file over `limit` bytes: the rest of it is read and dropped, never stored."""

    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.request.upload_refused = (
                f"{self.file_name or 'The file'} is over {human_bytes(self.limit)}; "
                f"uploads are limited to {human_bytes(self.limit)}."
            )
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the next handler (to memory or a temporary file) builds the file


def _declared_too_big(request) -> str | None:
    limit = Limits.from_settings().upload_max_bytes
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + FORM_OVERHEAD:
        return f"The upload is {human_bytes(length)}; uploads are limited to {human_bytes(limit)}."
    return None


def refusal(request) -> str | None:
    """Why the upload of this request was refused for its size, if it was. A request whose
    declared length is over the cap is not read; any other is parsed (through the cap)."""
    declared = _declared_too_big(request)
    if declared:
        return declared
    request.FILES  # noqa: B018 - parsing the body is what runs the handlers
    return getattr(request, "upload_refused", None)


def capped_upload(view):
    """Wraps a view that receives uploads: the size cap is in place before the body is read; a
    request whose declared length is already over the cap is not read at all (the view sees
    `refusal(request)` and answers without touching request.POST)."""
    protected = csrf_protect(view)

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST":
            limit = Limits.from_settings().upload_max_bytes
            request.upload_handlers.insert(0, SizeCapHandler(request, limit))
            if _declared_too_big(request):
                return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapper)


class UploadOnDisk:
    """An uploaded file as a path on disk. Django already streams large uploads to a temporary
    file; a small one held in memory is written out so every upload is read the same way."""

    def __init__(self, uploaded) -> None:
        self.uploaded = uploaded
        self.tmpdir: Path | None = None

    def __enter__(self) -> Path:
        if hasattr(self.uploaded, "temporary_file_path"):
            return Path(self.uploaded.temporary_file_path())
        self.tmpdir = Path(tempfile.mkdtemp(prefix="prakriya-upload-"))
        path = self.tmpdir / "upload"
        with path.open("wb") as out:
            for chunk in self.uploaded.chunks():
                out.write(chunk)
        return path

    def __exit__(self, *exc) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
