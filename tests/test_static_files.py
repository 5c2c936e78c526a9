"""Page weight (issue 16): production's static storage names files by a hash of their content,
serves them compressed and cached for good, and plotly.js goes only to pages that draw a chart,
deferred. How fast pages load is measured in bench/page_load.py, never asserted here."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from projects import services

pytestmark = pytest.mark.django_db

PRODUCTION_STORAGE = "prakriya.static_storage.HashedCompressedStaticFilesStorage"
HASHED_PLOTLY = re.compile(r'<script src="(/static/plotly/plotly\.min\.[0-9a-f]{12}\.js)" defer>')


@pytest.fixture(scope="module")
def collected(tmp_path_factory, django_db_blocker):
    """The tests' settings keep plain names (tests/conftest.py); here collectstatic runs once into
    a folder of the module's own, with the storage production uses."""
    from django.conf import settings

    root = tmp_path_factory.mktemp("static")
    with override_settings(
        STATIC_ROOT=root,
        STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PRODUCTION_STORAGE}},
    ):
        # The admin's and the API docs' files are left out: these pages use none, and compressing
        # them would take most of the module's time.
        call_command("collectstatic", interactive=False, verbosity=0,
                     ignore_patterns=["admin", "rest_framework", "drf_spectacular_sidecar"])
        yield root


def test_page_without_a_chart_loads_no_plotly(collected, project):
    for path in ("/", f"/projects/{project.slug}/"):
        response = Client().get(path)
        assert response.status_code == 200
        assert b"plotly.min" not in response.content


def test_page_with_a_chart_loads_hashed_plotly_deferred(collected, project, lead):
    services.value_estimate_save(project=project, actor=lead, quantity="minutes", current=4, expected=1)
    html = Client().get(f"/projects/{project.slug}/").content.decode()
    assert 'data-plotly-for="value-chart"' in html
    match = HASHED_PLOTLY.search(html)
    assert match, "plotly.js is not referenced by its hashed name with defer"
    # The chart script runs after plotly.js: both are deferred, in this order.
    assert html.index(match.group(1)) < html.index("/static/js/charts.")


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_hashed_static_file_is_compressed_and_immutable(collected, project, lead, encoding):
    services.value_estimate_save(project=project, actor=lead, quantity="minutes", current=4, expected=1)
    url = HASHED_PLOTLY.search(Client().get(f"/projects/{project.slug}/").content.decode()).group(1)
    response = Client().get(url, HTTP_ACCEPT_ENCODING=encoding)
    assert response.status_code == 200
    assert response["Content-Encoding"] == encoding
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]
    assert int(response["Content-Length"]) < 1_600_000  # of 4.8 MB uncompressed
