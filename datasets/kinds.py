"""The job kinds of the datasets app, declared once: what a Job row's `kind` holds. The kinds'
work and registration are in datasets/jobs.py."""

VERSION_WRITE = "dataset_version_write"
PROFILE = "dataset_profile"
# Writes a dataset's versions again without the labels of keys sealed since (datasets/sealing.py).
SEAL = "dataset_seal"
