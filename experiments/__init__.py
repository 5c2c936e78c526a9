"""MLflow integration, training jobs, loss curves, error analysis, sealed evaluation."""
