"""The serving bundle of an export: one zip that runs the model anywhere Python or Docker runs,
without the platform.

It holds the ONNX file, its input schema, the stand-alone server (deployments/bundle/server.py)
with the platform's own input preparation beside it (deployments/serving/prepare.py, the same
file the platform's endpoint uses, so both answer alike), pinned requirements, a Dockerfile and a
README. Built on request from what the export recorded; nothing is cached.
"""

from __future__ import annotations

import io
import json
import zipfile
from importlib import metadata
from pathlib import Path

from deployments.export.selectors import export_bytes
from deployments.models import ModelExport

HERE = Path(__file__).resolve().parent
PREPARE = HERE.parent / "serving" / "prepare.py"
REQUIREMENTS = ("onnxruntime", "numpy", "Pillow")

DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 8080
USER nobody
CMD ["python", "server.py", "--port", "8080"]
"""


def _readme(export: ModelExport) -> str:
    schema = export.input_schema
    return f"""# {export.project.title}: {export} ({export.variant})

Exported by Prakriya from run {export.run.mlflow_run_id} ({export.trainer}), ONNX opset {export.opset},
SHA-256 {export.sha256}. Takes {schema.get('kind')} inputs; answers one of {len(schema.get('classes') or [])}
classes with its score.

Run it with Python 3.11:

    pip install -r requirements.txt
    python server.py --port 8080

or with Docker:

    docker build -t {export.project.slug}-{export.pk} .
    docker run -p 8080:8080 {export.project.slug}-{export.pk}

Then:

    curl http://localhost:8080/                      # the input schema
    curl -X POST http://localhost:8080/predict -H 'Content-Type: application/json' -d '{{"inputs": [...]}}'

Inputs are what the platform's prediction endpoint takes (see input_schema.json): numbers in the
schema's feature order (tabular), {{"image_base64": ...}} or the flattened pixels (image), or a
string (text). The answers are the platform's, prepared by the same prepare.py.
"""


def bundle_filename(export: ModelExport) -> str:
    return f"{export.project.slug}-export-{export.pk}-{export.variant}.zip"


def bundle_bytes(export: ModelExport) -> bytes:
    data = export_bytes(export=export)
    requirements = "".join(f"{name}=={metadata.version(name)}\n" for name in REQUIREMENTS)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.onnx", data)
        archive.writestr("input_schema.json", json.dumps(export.input_schema, indent=2))
        archive.writestr("bundle.json", json.dumps({
            "version": export.pk, "variant": export.variant, "project": export.project.slug,
            "run": export.run.mlflow_run_id, "sha256": export.sha256, "opset": export.opset,
        }, indent=2))
        archive.writestr("server.py", (HERE / "server.py").read_text())
        archive.writestr("prepare.py", PREPARE.read_text())
        archive.writestr("requirements.txt", requirements)
        archive.writestr("Dockerfile", DOCKERFILE)
        archive.writestr("README.md", _readme(export))
    return out.getvalue()
