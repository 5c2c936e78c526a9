"""The serving bundle: its stand-alone server, run as a plain process from the unpacked zip (no
Docker engine here), gives the platform's answers for the same inputs; the zip holds what its
README promises; only those who see the project's deployments download it."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from deployments import services
from deployments.serving import log
from tests.deployments.serving_helpers import benchmarked, served_export

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_bundle_server_answers_as_the_platform_endpoint_does(client, project, lead, tmp_path):
    export = served_export(project, seed=3)
    benchmarked(export, inside=True)
    deployment = services.deployment_create(project=project, actor=lead, name="api", export=export)
    client.force_login(lead)

    download = client.get(reverse("deployments:export_bundle", args=[project.slug, export.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {"model.onnx", "input_schema.json", "server.py", "prepare.py", "requirements.txt", "Dockerfile",
                "README.md", "bundle.json"} <= set(archive.namelist())
        archive.extractall(tmp_path)
    assert "onnxruntime==" in (tmp_path / "requirements.txt").read_text()

    port = _free_port()
    server = subprocess.Popen([sys.executable, str(tmp_path / "server.py"), "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        rows = np.random.default_rng(7).uniform(0, 16, size=(5, 64)).round(3).tolist()
        api = APIClient()
        api.force_authenticate(user=lead)
        platform = api.post(f"/api/projects/{project.slug}/deployments/{deployment.slug}/predict/", {"inputs": rows},
                            format="json").json()
        status, bundled = _post(f"http://127.0.0.1:{port}/predict", {"inputs": rows})

        assert status == 200
        assert bundled["predictions"] == platform["predictions"]
        assert bundled["version"] == platform["version"] == export.pk
        bad_status, bad = _post(f"http://127.0.0.1:{port}/predict", {"inputs": [[1.0] * 3]})
        assert bad_status == 400 and "must hold 64 numbers" in bad["detail"]
    finally:
        server.terminate()
        server.wait(10)
        log.buffer.flush()


def test_a_bundle_is_only_for_those_who_see_the_deployments(client, private_project, lead, annotator, outsider):
    export = served_export(private_project, seed=3)
    url = reverse("deployments:export_bundle", args=[private_project.slug, export.pk])
    for user, expected in ((outsider, 404), (annotator, 403), (lead, 200)):
        client.force_login(user)
        assert client.get(url).status_code == expected
