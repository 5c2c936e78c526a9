"""Benchmarks of ONNX exports against the project's targets: latency, throughput, memory and size
under ONNX Runtime beside the original model, on the `export` queue."""
