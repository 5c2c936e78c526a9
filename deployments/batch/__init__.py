"""Batch prediction: a dataset version scored by one version (stable or canary export) of a
deployment, on the `export` queue, into a CSV people download. The sealed test items are never
read."""
