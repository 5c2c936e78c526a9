"""Progress of a profile, reported as a percentage that never goes backwards."""

from __future__ import annotations

from collections.abc import Callable

Report = Callable[[int, str], object]


class Progress:
    """Calls report(percent, message) with a percentage that never goes backwards."""

    def __init__(self, report: Report | None):
        self._report = report
        self._last = -1

    def __call__(self, percent: float, message: str) -> None:
        if self._report is None:
            return
        percent = int(max(self._last, min(100, percent)))
        self._last = percent
        self._report(percent, message)

    def step(self, percent: float, message: str) -> None:
        """For loops: reports only when the whole percentage moved."""
        if int(percent) > self._last:
            self(percent, message)
