"""ONNX export, benchmarks against targets, serving, rollout, drift."""
