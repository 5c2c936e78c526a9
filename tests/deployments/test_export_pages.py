"""The export and benchmark pages and API: who gets what (every route × role × visibility), what
the pages show, and bad input answered with a clear 400.

The world of each cell is built without running a job: a finished platform run that names a ready,
split version and has a model file (enough for an export to be accepted), a ready export whose
file is a real, small ONNX model in the run's artifacts, its card, and a finished benchmark."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from onnx import TensorProto, helper, numpy_helper

from deployments import onnx_files
from deployments.export import card as model_card
from deployments.models import Benchmark, ExportState, ModelExport, Variant
from experiments import mlflow_store
from experiments.models import Run, RunSource
from prakriya.jobs.models import Job
from projects.models import Target
from tests.experiments.runs_helpers import TRACEABLE_TAGS, logged_run, split_version
from tests.experiments.test_pages_permissions import LOGIN, PRIVATE_READ, PUBLIC_READ, R, _outcome, row
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

PUBLIC_MANAGE = row(LOGIN, 403, 403, 403, R, R)
PRIVATE_MANAGE = row(404, 404, 403, 403, R, R)
PUBLIC_MANAGE_FORM = row(LOGIN, 403, 403, 403, 200, 200)
PRIVATE_MANAGE_FORM = row(404, 404, 403, 403, 200, 200)
# Writes authenticate first (anonymous: 401, as every API write), then resolve the project.
API_PUBLIC_START = row(401, 403, 403, 403, 202, 202)
API_PRIVATE_START = row(401, 404, 403, 403, 202, 202)


def _onnx_bytes() -> bytes:
    weight = numpy_helper.from_array(np.eye(64, 10, dtype=np.float32), "weight")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weight"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "matrix", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 10])], initializer=[weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def exportable_run(project, *, name: str = "mlp run") -> Run:
    record = logged_run(project, name=name, tags=TRACEABLE_TAGS, train=[1.0], val=[1.0])
    Run.objects.filter(pk=record.pk).update(source=RunSource.PLATFORM)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        path.write_bytes(b"not read unless the export job runs")
        mlflow_store.log_artifact(run_id=record.mlflow_run_id, local_path=path, artifact_path="model")
    record.refresh_from_db()
    return record


def ready_export(project, run, engineer) -> tuple[ModelExport, bytes]:
    data = _onnx_bytes()
    export = ModelExport.objects.create(
        project=project, run=run, state=ExportState.READY, trainer="mlp", created_by=engineer, opset=17,
        options={"quantise": "dynamic", "prune_sparsity": None},
        input_schema={"format": 1, "kind": "image", "classes": [str(d) for d in range(10)], "feature_names": None,
                      "n_features": 64, "image": {"mode": "L", "channels": 1, "height": 8, "width": 8},
                      "text": None, "onnx_inputs": [{"name": "input", "dtype": "float32", "shape": [None, 64]}],
                      "onnx_output": "probabilities", "opset": 17, "trainer": "mlp"},
        parity={"max_abs_diff": 3e-7, "mean_abs_diff": 1e-8, "agreement": 1.0, "disagreements": 0, "items": 270,
                "tolerance": 1e-4, "within": True},
        metrics={"val_accuracy": 0.9, "val_macro_f1": 0.89, "original_val_accuracy": 0.9,
                 "per_class": [{"class": "3", "recall": 0.7, "support": 27}]},
    )
    path, sha = onnx_files.store(run_id=run.mlflow_run_id, export_id=export.pk, variant=Variant.FP32, data=data)
    export.artifact_path, export.sha256, export.size_bytes = path, sha, len(data)
    export.save()
    ModelExport.objects.create(
        project=project, run=run, base=export, variant=Variant.INT8_DYNAMIC, state=ExportState.READY,
        trainer="mlp", size_bytes=len(data) // 3,
        parity={"max_abs_diff": 0.02, "agreement": 0.99, "disagreements": 3, "items": 270, "tolerance": None},
        metrics={"val_accuracy": 0.89, "accuracy_delta": -0.01, "size_delta_bytes": -200, "size_ratio": 0.34},
    )
    export.card = model_card.build(export)
    export.save()
    return export, data


def _engine(name: str, scale: float) -> dict:
    batches = {str(b): {"latency_ms": {"p50": scale * b, "p95": scale * b * 1.5, "p99": scale * b * 2,
                                       "mean": scale * b, "min": scale, "max": scale * b * 3},
                        "throughput": 1000 / scale, "calls": 10, "warmup": 2} for b in (1, 32)}
    return {"engine": name, "batches": batches, "peak_rss_delta_mb": 1.5, "model_size_mb": 0.003}


def finished_benchmark(project, export, engineer) -> Benchmark:
    results = {
        "machine": {"cpu": "Test CPU", "logical_cores": 2, "physical_cores": 1, "platform": "Linux", "python": "3.11",
                    "onnxruntime": "1.x", "torch": "2.x", "scikit_learn": "1.x",
                    "providers": ["CPUExecutionProvider"], "threads": 1},
        "options": {"batch_sizes": [1, 32], "iterations": 10, "warmup": 2, "threads": 1},
        "inputs": {"items": 270, "source": "validation part of digits@v1"},
        "onnx": _engine("ONNX Runtime", 0.1), "original": _engine("PyTorch eager", 0.3),
        "speedup": {"1": {"p50": 3.0}, "32": {"p50": 3.0}}, "memory_method": "RSS growth.",
    }
    return Benchmark.objects.create(
        project=project, export=export, created_by=engineer, options=results["options"], results=results,
        targets=[{"target": "latency_p95 ≤ 5 ms", "metric": "latency_p95", "unit": "ms", "primary": False,
                  "value": 0.15, "met": True, "source": "benchmark (ONNX Runtime)", "url": "/x/", "note": ""}],
        finished_at=timezone.now(),
    )


# (route, method, public, private)
ROUTES = [
    ("export", "GET", PUBLIC_READ, PRIVATE_READ),
    ("export_download", "GET", PUBLIC_READ, PRIVATE_READ),
    ("run_export", "GET", PUBLIC_MANAGE_FORM, PRIVATE_MANAGE_FORM),
    ("run_export", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("benchmark", "GET", PUBLIC_READ, PRIVATE_READ),
    ("benchmark_start", "GET", PUBLIC_MANAGE_FORM, PRIVATE_MANAGE_FORM),
    ("benchmark_start", "POST", PUBLIC_MANAGE, PRIVATE_MANAGE),
    ("api:exports", "GET", PUBLIC_READ, PRIVATE_READ),
    ("api:export", "GET", PUBLIC_READ, PRIVATE_READ),
    ("api:exports", "POST", API_PUBLIC_START, API_PRIVATE_START),
    ("api:benchmarks", "GET", PUBLIC_READ, PRIVATE_READ),
    ("api:benchmark", "GET", PUBLIC_READ, PRIVATE_READ),
    ("api:benchmarks", "POST", API_PUBLIC_START, API_PRIVATE_START),
]


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_deployment_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project, engineer):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    split_version(target)
    run = exportable_run(target)
    export, data = ready_export(target, run, engineer)
    benchmark = finished_benchmark(target, export, engineer)
    check_routes({
        f"{method} {route}": functools.partial(
            _check_route, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, slug=target.slug, run=run, export=export, data=data,
            benchmark=benchmark,
        )
        for route, method, public, private in ROUTES
    })


def _check_route(*, route, method, expected, visibility, users, slug, run, export, data, benchmark):
    api = route.startswith("api:")
    body: dict = {}
    if route == "export":
        url = reverse("deployments:export", args=[slug, export.pk])
    elif route == "export_download":
        url = reverse("deployments:export_download", args=[slug, export.pk])
    elif route == "run_export":
        url, body = reverse("deployments:run_export", args=[slug, run.mlflow_run_id]), {"quantise": "dynamic"}
    elif route == "benchmark":
        url = reverse("deployments:benchmark", args=[slug, benchmark.pk])
    elif route == "benchmark_start":
        url, body = reverse("deployments:benchmark_start", args=[slug, export.pk]), {"iterations": "10"}
    elif route in ("api:exports", "api:export"):
        url = f"/api/projects/{slug}/model-exports/" + (f"{export.pk}/" if route == "api:export" else "")
        body = {"run": run.mlflow_run_id, "quantise": "none"}
    else:
        url = f"/api/projects/{slug}/benchmarks/" + (f"{benchmark.pk}/" if route == "api:benchmark" else "")
        body = {"export": export.pk, "iterations": 10}
    before = (ModelExport.objects.count(), Benchmark.objects.count(), Job.objects.count())

    def send(role):
        client = signed_in(users[role], api=api)
        if method == "GET":
            return client.get(url)
        return client.post(url, body, format="json") if api else client.post(url, body)

    def also(role, response, expected):
        counts = (ModelExport.objects.count(), Benchmark.objects.count(), Job.objects.count())
        if method == "POST" and expected not in (R, 202) and counts != before:
            return "a refused request changed something"
        if method == "POST" and expected in (R, 202) and counts[2] != before[2] + 1:
            return "an accepted request queued no job"
        if route == "export_download" and expected == 200 and response.content != data:
            return "the download is not the export's file"
        if route == "export" and expected == 200:
            page = response.content.decode()
            if "Parity with the run" not in page or "Model card" not in page:
                return "the export page misses its parity or card"
            shows_button = reverse("deployments:benchmark_start", args=[slug, export.pk]) in page
            if shows_button != (role in ("engineer", "lead")):
                return "the Benchmark button is shown to the wrong roles"
        return None

    check_matrix(route=f"{method} {route}", visibility=visibility, send=send, status_of=_outcome, also=also,
                 expected=expected)


def test_the_export_page_shows_parity_variants_the_card_and_the_download(client, project, engineer, viewer):
    split_version(project)
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.8, is_primary=True)
    run = exportable_run(project)
    export, _ = ready_export(project, run, engineer)
    client.force_login(viewer)
    page = client.get(reverse("deployments:export", args=[project.slug, export.pk])).content.decode()
    assert 'data-parity="max_abs_diff">3e-07' in page and "270 items" in page
    assert 'data-variant="int8-dynamic"' in page and 'data-delta="accuracy">-0.0100' in page
    assert 'data-testid="model-card"' in page and 'data-card-metric="onnx_val_accuracy">0.9000' in page
    assert reverse("deployments:export_download", args=[project.slug, export.pk]) in page
    assert reverse("deployments:benchmark_start", args=[project.slug, export.pk]) not in page
    # The card's accuracy target, from the ONNX model's validation accuracy.
    assert export.card["targets"][0]["met"] is True and export.card["targets"][0]["value"] == 0.9


def test_the_benchmark_page_shows_the_chart_the_targets_and_the_machine(client, project, engineer):
    split_version(project)
    run = exportable_run(project)
    export, _ = ready_export(project, run, engineer)
    benchmark = finished_benchmark(project, export, engineer)
    page = client.get(reverse("deployments:benchmark", args=[project.slug, benchmark.pk])).content.decode()
    assert 'id="latency-chart"' in page and "plotly.min.js" in page
    assert 'data-met="met"' in page and "Inside the targets" in page
    assert "Test CPU" in page and "CPUExecutionProvider" in page


def test_bad_export_requests_are_400s_that_say_why(client, project, engineer):
    split_version(project)
    run = exportable_run(project)
    bare = logged_run(project, name="no model", tags=TRACEABLE_TAGS)
    Run.objects.filter(pk=bare.pk).update(source=RunSource.PLATFORM)
    client.force_login(engineer)
    url = reverse("deployments:run_export", args=[project.slug, run.mlflow_run_id])
    response = client.post(url, {"quantise": "int4"})
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    response = client.post(url, {"quantise": "none", "prune_sparsity": "1.5"})
    assert response.status_code == 400 and b"0.95" in response.content
    response = client.post(reverse("deployments:run_export", args=[project.slug, bare.mlflow_run_id]),
                           {"quantise": "none"})
    assert response.status_code == 400 and b"model/model.pt" in response.content
    assert client.post(reverse("deployments:run_export", args=[project.slug, "nope"]), {}).status_code == 404

    api = signed_in(engineer, api=True)
    base = f"/api/projects/{project.slug}/model-exports/"
    for body, field in (({"run": run.mlflow_run_id, "quantise": "int4"}, "quantise"),
                        ({"run": run.mlflow_run_id, "prune_sparsity": 0}, "prune_sparsity"),
                        ({"run": "nope"}, "run"), ({"run": 5}, "run"),
                        ({"run": run.mlflow_run_id, "extra": 1}, "extra")):
        answer = api.post(base, body, format="json")
        assert answer.status_code == 400 and field in str(answer.json()["errors"]), (body, answer.json())
    assert api.post(base, "{not json", content_type="application/json").status_code == 400
    bench = f"/api/projects/{project.slug}/benchmarks/"
    for body in ({"export": 999_999}, {"export": "x"}, {"export": 1, "batch_sizes": [0]}, {"export": 1, "threads": 99}):
        assert api.post(bench, body, format="json").status_code == 400, body
    assert not ModelExport.objects.exists() and not Job.objects.exists()


def test_the_api_gives_an_export_with_its_schema_parity_metrics_card_and_variants(project, engineer):
    split_version(project)
    export, _ = ready_export(project, exportable_run(project), engineer)
    answer = signed_in(None, api=True).get(f"/api/projects/{project.slug}/model-exports/{export.pk}/").json()
    assert answer["schema"]["onnx_output"] == "probabilities" and answer["parity"]["within"] is True
    assert answer["metrics"]["val_accuracy"] == 0.9 and answer["card"]["model"]["export"]["id"] == export.pk
    assert [v["variant"] for v in answer["variants"]] == ["int8-dynamic"]
    listing = signed_in(None, api=True).get(f"/api/projects/{project.slug}/model-exports/").json()
    assert [e["id"] for e in listing["results"]] == [export.pk]


def test_an_api_export_answers_202_with_the_job(project, engineer):
    split_version(project)
    run = exportable_run(project)
    answer = signed_in(engineer, api=True).post(f"/api/projects/{project.slug}/model-exports/",
                                                {"run": run.mlflow_run_id, "quantise": "static"}, format="json")
    assert answer.status_code == 202 and answer["Location"].endswith(f"/api/jobs/{answer.json()['id']}/")
    export = ModelExport.objects.get()
    assert export.job_id == answer.json()["id"] and export.options == {"quantise": "static", "prune_sparsity": None}
    assert export.job.queue == "export" and export.state == ExportState.PENDING


def test_the_run_page_form_include_posts_to_the_export_route(rf, project):
    split_version(project)
    run = exportable_run(project)
    html = render_to_string("deployments/export/_export_form.html", {"project": project, "run": run},
                            request=rf.get("/"))
    assert f'action="{reverse("deployments:run_export", args=[project.slug, run.mlflow_run_id])}"' in html
    assert 'name="quantise"' in html and 'name="prune_sparsity"' in html
