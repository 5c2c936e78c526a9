"""Reads of ONNX exports, scoped to what the requesting user may see (exports are read like runs:
policy.VIEW_DEPLOYMENTS), and the bytes of an export for whatever runs it (benchmark, serving)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from deployments import onnx_files
from deployments.models import ExportState, ModelExport
from projects import policy
from projects.models import Project
from projects.selectors import AnyUser


def exports_for_project(*, user: AnyUser, project: Project, variants: bool = False) -> QuerySet[ModelExport]:
    """The project's exports, newest first: the fp32 exports (each with its variants on its own
    page), or every row with `variants`. None for a user who may not see deployments."""
    if not policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS):
        return ModelExport.objects.none()
    exports = ModelExport.objects.filter(project=project).select_related("run", "job", "created_by", "base")
    return exports if variants else exports.filter(base__isnull=True)


def export_get(*, user: AnyUser, project: Project, pk: int) -> ModelExport:
    """One of the project's exports (fp32 or variant); 404 when the user may not see it."""
    export = exports_for_project(user=user, project=project, variants=True).filter(pk=pk).first()
    if export is None:
        raise Http404("No such export")
    return export


def export_variants(*, export: ModelExport) -> list[ModelExport]:
    """The variants made beside an fp32 export (the caller has authorised the export)."""
    return list(ModelExport.objects.filter(base=export).order_by("id"))


def export_bytes(*, export: ModelExport) -> bytes:
    """The `.onnx` file of a READY export, checked against the digest it recorded (from this
    process's cache or MLflow). Raises onnx_files.OnnxFileError when it cannot be had intact."""
    if export.state != ExportState.READY or not export.sha256:
        raise onnx_files.OnnxFileError("This export has no model file (it is not ready).")
    return onnx_files.load(run_id=export.run.mlflow_run_id, path=export.artifact_path, sha256=export.sha256)


def download_name(export: ModelExport) -> str:
    return f"{export.project.slug}-export-{export.pk}-{export.variant}.onnx"
