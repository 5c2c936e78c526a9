"""ONNX export of real runs: a torch MLP and a scikit-learn baseline trained on digits by the
platform, exported by the export job, checked for parity against the run's model on validation,
with int8 and pruned variants beside them and a model card whose numbers are their sources'."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
import torch
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from deployments import onnx_files
from deployments.export import runtime
from deployments.export.services import export_start
from deployments.models import ExportState, ModelExport, Variant
from experiments import checkpoints, mlflow_store
from experiments.evaluation.services import evaluation_approve, evaluation_request
from experiments.inputs import load_inputs
from experiments.models import Run, RunSource
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import Deliverable, DeliverableKind, DeliverableState, Target
from tests.deployments.helpers import LOGREG, MLP, digits_version, exported, trained_run
from tests.experiments.runs_helpers import TRACEABLE_TAGS, logged_run, split_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def digits(project, lead):
    return digits_version(project, lead)


def _numbers(node, path=""):
    """Every {"value": number, "url": …} leaf of the card, with where it is."""
    if isinstance(node, dict):
        if "value" in node and "url" in node and isinstance(node["value"], int | float) and not isinstance(
                node["value"], bool):
            yield path, node
        for key, child in node.items():
            yield from _numbers(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _numbers(child, f"{path}[{i}]")


def _registered(run: Run) -> list:
    name = checkpoints.model_name(project=run.project)
    return mlflow_store.client().search_model_versions(f"name = '{name}' and run_id = '{run.mlflow_run_id}'")


def _stored_files(run: Run, export_id: int) -> set[str]:
    return {f.path for f in mlflow_store.list_artifacts(run_id=run.mlflow_run_id, path=f"onnx/{export_id}")}


def test_an_mlp_is_exported_within_parity_with_an_int8_and_a_pruned_variant(project, digits, engineer):
    run = trained_run(digits, engineer, trainer="mlp", config=MLP)

    export = exported(run, engineer, quantise="dynamic", prune_sparsity=0.5)

    assert export.job.state == JobState.SUCCEEDED, (export.job.message, export.job.log)
    assert export.state == ExportState.READY and export.variant == Variant.FP32
    data = load_inputs(version=digits).data
    # Parity, measured on every validation item, within the setting's tolerance.
    parity = export.parity
    assert parity["items"] == len(data.y_val) and parity["tolerance"] == 1e-4 and parity["within"] is True
    assert 0 <= parity["max_abs_diff"] <= 1e-4 and parity["agreement"] == 1.0
    # The stored file is the one the export names, a clean single-file ONNX model of the contract.
    raw = onnx_files.load(run_id=run.mlflow_run_id, path=export.artifact_path, sha256=export.sha256)
    assert len(raw) == export.size_bytes and onnx_files.digest(raw) == export.sha256
    model = onnx.load_from_string(raw)
    onnx.checker.check_model(model, full_check=True)
    assert export.opset == 17 and {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {17}
    assert [o.name for o in model.graph.output] == ["probabilities"]
    schema = export.input_schema
    assert schema == {
        "format": 1, "kind": "image", "classes": [str(d) for d in range(10)], "feature_names": None,
        "n_features": 64, "image": {"mode": "L", "channels": 1, "height": 8, "width": 8}, "text": None,
        "onnx_inputs": [{"name": "input", "dtype": "float32", "shape": [None, 64]}],
        "onnx_output": "probabilities", "opset": 17, "trainer": "mlp",
    }
    session = runtime.session(raw)
    for batch in (1, 64):  # the batch dimension is dynamic
        out = session.run(["probabilities"], {"input": data.x_val[:batch]})[0]
        assert out.shape == (batch, 10) and out.dtype == np.float32 and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    # The ONNX model's validation accuracy is the run's.
    recorded = mlflow_store.client().get_run(run.mlflow_run_id).data.metrics["val_accuracy"]
    assert export.metrics["val_accuracy"] == pytest.approx(recorded, abs=1e-9)
    # Registered beside the run's checkpoints, as a new version of the project's model.
    versions = [v for v in _registered(run) if v.tags.get("prakriya.export") == str(export.pk)]
    assert len(versions) == 1 and str(versions[0].version) == export.model_version
    assert versions[0].tags["prakriya.format"] == "onnx" and versions[0].source.endswith(f"onnx/{export.pk}")

    variants = {v.variant: v for v in ModelExport.objects.filter(base=export)}
    assert set(variants) == {Variant.INT8_DYNAMIC, Variant.PRUNED}
    int8 = variants[Variant.INT8_DYNAMIC]
    assert int8.state == ExportState.READY and int8.input_schema == schema
    # Quantisation's changes are measured and stored: accuracy and size against the fp32 export.
    assert int8.metrics["accuracy_delta"] == pytest.approx(int8.metrics["val_accuracy"] - export.metrics["val_accuracy"])
    assert int8.metrics["size_delta_bytes"] == int8.size_bytes - export.size_bytes < 0
    assert int8.parity["items"] == parity["items"] and int8.parity["tolerance"] is None
    int8_model = onnx.load_from_string(onnx_files.load(run_id=run.mlflow_run_id, path=int8.artifact_path,
                                                       sha256=int8.sha256))
    assert any(node.op_type in ("MatMulInteger", "DynamicQuantizeLinear") for node in int8_model.graph.node)
    pruned = variants[Variant.PRUNED]
    assert pruned.state == ExportState.READY and pruned.options == {"prune_sparsity": 0.5}
    assert pruned.metrics["sparsity"] == pytest.approx(0.5, abs=0.01)
    weights = [w for w in onnx.load_from_string(onnx_files.load(
        run_id=run.mlflow_run_id, path=pruned.artifact_path, sha256=pruned.sha256)).graph.initializer
        if len(w.dims) == 2]
    zeros = sum(int((onnx.numpy_helper.to_array(w) == 0).sum()) for w in weights)
    assert zeros / sum(int(np.prod(w.dims)) for w in weights) == pytest.approx(0.5, abs=0.01)
    assert _stored_files(run, export.pk) == {f"onnx/{export.pk}/{v}.onnx" for v in ("fp32", "int8-dynamic", "pruned")}
    # The job's page leads to the export.
    job = Job.objects.get(pk=export.job_id)
    from prakriya.jobs import registry

    assert registry.result_link(job, export.created_by).url == reverse("deployments:export", args=[project.slug, export.pk])


def _perturbed_export(real):
    """torch.onnx.export of a copy of the module whose last layer's weights were shifted: an
    export that no longer computes what the run's model computes."""

    def export(module, args, f, **kwargs):
        broken = copy.deepcopy(module)
        last = [m for m in broken.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.add_(torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(0)))
        return real(broken, args, f, **kwargs)

    return export


def test_a_broken_export_fails_its_job_with_the_parity_message_and_keeps_nothing(
        project, digits, engineer, monkeypatch):
    run = trained_run(digits, engineer, trainer="mlp", config=MLP)
    monkeypatch.setattr(torch.onnx, "export", _perturbed_export(torch.onnx.export))

    export = exported(run, engineer, quantise="dynamic")

    job = Job.objects.get(pk=export.job_id)
    assert job.state == JobState.FAILED
    assert job.message.startswith("Parity check failed: the ONNX model's class scores differ")
    assert export.state == ExportState.FAILED and export.failure == job.message
    assert "tolerance 0.0001" in export.failure
    # The numbers that failed it are kept; the file, its registration and variants are not.
    assert export.parity["within"] is False and export.parity["max_abs_diff"] > 1e-4
    assert not export.sha256 and not export.model_version
    assert _stored_files(run, export.pk) == set()
    assert not any(v.tags.get("prakriya.export") == str(export.pk) for v in _registered(run))
    assert not ModelExport.objects.filter(base=export).exists()


def _approve_gate(project) -> None:
    for kind in (DeliverableKind.DATA_DOCUMENT, DeliverableKind.BASELINES):
        Deliverable.objects.update_or_create(project=project, kind=kind, defaults={"state": DeliverableState.APPROVED})


def test_a_baseline_is_exported_with_parity_and_a_static_int8_variant_and_a_card_whose_numbers_are_their_sources(
        project, digits, engineer, lead):
    project.problem_statement = "Clerks read handwritten digits on forms."
    project.ml_role = "Suggest the digit; the clerk confirms."
    project.save()
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.5, is_primary=True)
    Target.objects.create(project=project, metric="latency_p95", comparator="<=", threshold=1000, unit="ms")
    Target.objects.create(project=project, metric="precision", comparator=">=", threshold=0.9,
                          condition="at recall 0.8")
    run = trained_run(digits, engineer, trainer="logistic_regression", config=LOGREG)
    # A finished sealed evaluation of the run: its aggregates belong on the card.
    _approve_gate(project)
    evaluation = evaluation_approve(
        evaluation=evaluation_request(run=run, actor=engineer, reason="the baseline"), actor=lead)
    job_execute(evaluation.job_id)
    evaluation.refresh_from_db()
    assert evaluation.state == "done", evaluation.failure
    with pytest.raises(ValidationError, match="neural networks only"):
        export_start(run=run, actor=engineer, prune_sparsity=0.5)

    export = exported(run, engineer, quantise="static")

    assert export.state == ExportState.READY, export.failure
    assert export.parity["within"] and export.parity["agreement"] == 1.0
    schema = export.input_schema
    assert schema["trainer"] == "logistic_regression" and schema["onnx_inputs"][0]["name"] == "input"
    model = onnx.load_from_string(onnx_files.load(run_id=run.mlflow_run_id, path=export.artifact_path,
                                                  sha256=export.sha256))
    assert [o.name for o in model.graph.output] == ["probabilities"]
    static = ModelExport.objects.get(base=export)
    assert static.variant == Variant.INT8_STATIC and static.state == ExportState.READY
    assert static.metrics["calibration_items"] == 200 and static.metrics["calibration_seed"] == 0
    assert static.metrics["accuracy_delta"] == pytest.approx(static.metrics["val_accuracy"]
                                                             - export.metrics["val_accuracy"])

    card = export.card
    run_url = reverse("experiments:run", args=[project.slug, run.mlflow_run_id])
    export_url = reverse("deployments:export", args=[project.slug, export.pk])
    evaluation_url = reverse("experiments:evaluation", args=[project.slug, evaluation.pk])
    mlflow_run = mlflow_store.client().get_run(run.mlflow_run_id)
    # Every number carries the address of its source, and equals what that source holds.
    numbers = list(_numbers(card))
    assert numbers and all(n["url"] for _, n in numbers), [p for p, n in numbers if not n["url"]]
    validation = {row["metric"]: row for row in card["validation"]}
    for key in ("val_accuracy", "val_macro_f1", "val_loss"):
        assert validation[key]["value"] == mlflow_run.data.metrics[key] and validation[key]["url"] == run_url
    assert validation["onnx_val_accuracy"]["value"] == export.metrics["val_accuracy"]
    assert validation["onnx_val_accuracy"]["url"] == export_url
    assert card["parity"]["max_abs_diff"] == {"value": export.parity["max_abs_diff"], "url": export_url}
    assert card["sealed"]["url"] == evaluation_url
    for key in ("accuracy", "macro_f1", "items"):
        assert card["sealed"][key] == {"value": evaluation.results[key], "url": evaluation_url}
    tags = mlflow_run.data.tags
    assert card["provenance"]["dataset_version"] == {
        "value": "digits@v1", "url": reverse("datasets:version", args=[project.slug, "digits", 1])}
    assert card["provenance"]["label_version"]["value"] == tags[mlflow_store.TAG_LABEL_VERSION]
    assert card["provenance"]["seed"] == {"value": "5", "url": run_url}
    assert card["provenance"]["code_version"] == {"value": tags[mlflow_store.TAG_CODE_VERSION], "url": run_url}
    targets = {row["metric"]: row for row in card["targets"]}
    # Accuracy from the sealed result (the unbiased one); latency waits for a benchmark.
    assert targets["accuracy"]["value"] == evaluation.results["accuracy"]
    assert targets["accuracy"]["url"] == evaluation_url and targets["accuracy"]["met"] is True
    assert targets["latency_p95"]["met"] is None and targets["latency_p95"]["note"] == "No benchmark yet."
    assert targets["precision"]["met"] is None
    assert card["intended_use"]["problem_statement"] == project.problem_statement
    assert card["intended_use"]["url"] == reverse("projects:detail", args=[project.slug])
    analysis_url = reverse("experiments:run_analysis", args=[project.slug, run.mlflow_run_id])
    modes = card["failure_modes"]
    assert modes["url"] == analysis_url and modes["confused_pairs"]
    assert all(p["count"]["url"] == analysis_url and p["count"]["value"] > 0 for p in modes["confused_pairs"])
    # Sealed results are aggregates only: no test item's key anywhere on the card.
    test_keys = set(digits.items.filter(assignment__part="test").values_list("key", flat=True))
    text = str(card)
    assert not any(f"'{key}'" in text for key in test_keys)


def test_export_requests_are_bounded_and_for_leads_and_engineers(project, engineer, viewer, annotator):
    split_version(project)
    record = logged_run(project, name="mlp run", tags=TRACEABLE_TAGS, train=[1.0], val=[1.0])
    Run.objects.filter(pk=record.pk).update(source=RunSource.PLATFORM)
    record.refresh_from_db()
    for user in (viewer, annotator):
        with pytest.raises(PermissionDenied):
            export_start(run=record, actor=user)
    for options, field in (({"quantise": "int4"}, "quantise"), ({"prune_sparsity": 0.0}, "prune_sparsity"),
                           ({"prune_sparsity": 1.0}, "prune_sparsity"), ({"prune_sparsity": float("nan")},
                                                                          "prune_sparsity")):
        with pytest.raises(ValidationError) as refused:
            export_start(run=record, actor=engineer, **options)
        assert field in refused.value.message_dict
    # A run whose model file is missing cannot be rebuilt, so it is not exported.
    with pytest.raises(ValidationError, match="model/model.pt"):
        export_start(run=record, actor=engineer)
    assert not ModelExport.objects.exists() and not Job.objects.exists()
