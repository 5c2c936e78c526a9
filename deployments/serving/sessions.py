"""ONNX Runtime sessions, loaded once per process and reused by every request that process serves.

Keyed by the export's SHA-256, so two deployments of the same export share a session and a
changed file can never be served under an old key. Bounded (least recently used goes first): a
process serves a handful of versions at a time, not every export ever made. ONNX Runtime's
`run` is thread-safe, so one session serves all of a process's threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from deployments import onnx_files
from deployments.export import runtime
from deployments.export.selectors import export_bytes

if TYPE_CHECKING:
    import onnxruntime

    from deployments.models import ModelExport

MAX_SESSIONS = 16
_lock = threading.Lock()
_sessions: OrderedDict[str, onnxruntime.InferenceSession] = OrderedDict()


def session_for(export: ModelExport) -> onnxruntime.InferenceSession:
    with _lock:
        session = _sessions.get(export.sha256)
        if session is not None:
            _sessions.move_to_end(export.sha256)
            return session
    # Loaded outside the lock: another export's requests need not wait for this file.
    data = export_bytes(export=export)
    onnx_files.check_model_bytes(data)
    # One intra-op thread: a web process answers many small requests at once, and threads
    # fighting over the cores cost more than they give.
    session = runtime.session(data, threads=1)
    with _lock:
        _sessions[export.sha256] = session
        while len(_sessions) > MAX_SESSIONS:
            _sessions.popitem(last=False)
    return session


def loaded() -> list[str]:
    with _lock:
        return list(_sessions)
