"""A dataset version's train and validation parts become a trainer's input; the sealed test part
is never read."""

from __future__ import annotations

import numpy as np
import pytest

from datasets import services as dataset_services
from datasets.models import SplitPart
from experiments.inputs import load_inputs
from experiments.training import TrainingDataError
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute

# The version-writing jobs run here, in this process, and commit as a worker would.
pytestmark = pytest.mark.django_db(transaction=True)


def _sklearn_version(project, lead, name: str, kind: str):
    dataset = dataset_services.dataset_create(project=project, actor=lead, slug=name.replace("_", "-"),
                                              name=name, kind=kind)
    job = dataset_services.version_start_from_sklearn(dataset=dataset, actor=lead, name=name)
    for job_id in Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True):
        job_execute(job_id)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.message
    return dataset.versions.get()


def test_digits_train_and_validation_become_8x8_grey_pixels_and_the_test_part_is_left_out(project, lead):
    version = _sklearn_version(project, lead, "digits", "image")
    split = dataset_services.split_create(version=version, actor=lead, seed=3)

    loaded = load_inputs(version=version)

    data = loaded.data
    assert data.kind == "image" and data.image_shape == (1, 8, 8)
    assert len(data.y_train) == split.counts["train"] and len(data.y_val) == split.counts["validation"]
    assert data.classes == tuple(str(d) for d in range(10))
    test_keys = set(version.items.filter(assignment__part=SplitPart.TEST).values_list("key", flat=True))
    assert test_keys and not test_keys & set(loaded.val_keys)
    # The pixels are the images' own: a digit's ink is bright on a dark ground, 0–255.
    assert data.x_train.shape[1] == 64 and 0 <= data.x_train.min() and data.x_train.max() == 255
    first = version.items.get(key=loaded.val_keys[0])
    assert first.label == data.y_val[0]


def test_tabular_columns_become_features_in_their_order(project, lead):
    version = _sklearn_version(project, lead, "iris", "tabular")
    dataset_services.split_create(version=version, actor=lead, seed=1)

    data = load_inputs(version=version).data

    assert data.kind == "tabular" and data.n_features == 4
    first = version.items.get(key=load_inputs(version=version).val_keys[0])
    expected = [float(first.row[c]) for c in version.columns]
    assert np.allclose(data.x_val[0], expected)


def test_a_version_without_a_split_is_refused_with_a_reason(project, lead):
    version = _sklearn_version(project, lead, "wine", "tabular")
    with pytest.raises(TrainingDataError, match="no split yet"):
        load_inputs(version=version)
