"""The job kinds of the deployments app, declared once: what a Job row's `kind` holds. Their work
and registration: deployments/export/jobs.py (ONNX export), deployments/benchmark/jobs.py,
deployments/batch/jobs.py (batch prediction), deployments/drift/jobs.py."""

MODEL_EXPORT = "deployments_export"
BENCHMARK = "deployments_benchmark"
BATCH_PREDICT = "deployments_batch_predict"
DRIFT = "deployments_drift"
