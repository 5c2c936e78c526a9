"""A static files finder for the plotly.js bundled in the plotly package (served as
`plotly/plotly.min.js`; the platform must work offline, so no CDN)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PREFIX = "plotly"
BUNDLE = "plotly.min.js"


def _package_data() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyJsFinder(BaseFinder):
    """Only the one bundle: the package's data folder also holds sample data sets and a widget
    bundle, which collectstatic would otherwise copy, hash and compress for nothing."""

    def __init__(self, *args, **kwargs) -> None:
        self.root = _package_data()
        self.storage = FileSystemStorage(location=self.root)
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        if not (self.root / BUNDLE).is_file():
            return [Error(f"plotly.js is missing from the plotly package ({self.root / BUNDLE})",
                          id="prakriya.E010")]
        return []

    def find(self, path, find_all=False, **kwargs):
        find_all = find_all or kwargs.get("all", False)
        match = str(self.root / BUNDLE) if path == f"{PREFIX}/{BUNDLE}" else None
        if find_all:
            return [match] if match else []
        return match

    def list(self, ignore_patterns):
        yield BUNDLE, self.storage
