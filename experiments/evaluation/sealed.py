"""THE one place the platform reads sealed test labels.

`read_sealed_test_part` is called only by the evaluation job (experiments.evaluation.jobs), after a
lead approved the evaluation within the project's budget. What it returns stays inside that job:
the job turns it into aggregates (experiments.evaluation.scoring) and drops it. Nothing here logs,
raises or returns a message that names an item, a key or a label: errors say what kind of thing
went wrong, never which item.

The test items are turned into model inputs exactly as experiments.inputs turns validation items
into inputs (same column order, training means for missing cells, same image size and mode), by
handing the test items to the same functions in the validation part's place: a model must see
test inputs made the way its validation inputs were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datasets import sealed_store
from datasets.models import DatasetKind, DatasetVersion, Item, SplitPart
from experiments import inputs


class SealedReadError(Exception):
    """The test part cannot be evaluated; the message names no item and no label."""


@dataclass
class SealedTestPart:
    x: Any  # model inputs, row i for test item i
    labels: list[str]  # the sealed labels, row i for test item i

    def __len__(self) -> int:
        return len(self.labels)


def _test_items(version: DatasetVersion) -> tuple[list[Item], list[str]]:
    """The test part's items that have a sealed label, and those labels, in item order. The labels
    come from the sealed store: the items themselves hold none once sealed."""
    items = list(Item.objects.filter(version=version, assignment__part=SplitPart.TEST).order_by("id"))
    try:
        sealed = sealed_store.dataset_labels_read(version=version, keys=[item.key for item in items])
    except sealed_store.SealedKeyError as exc:
        raise SealedReadError(str(exc)) from None
    kept = [item for item in items if item.key in sealed]
    return kept, [sealed[item.key] for item in kept]


def read_sealed_test_part(*, version: DatasetVersion, image_shape: tuple[int, ...] | None = None) -> SealedTestPart:
    """The labelled items of the version's test part as model inputs and labels.

    `image_shape` is the (channels, height, width) the model was trained on: test images must come
    out the same size, or the evaluation is refused rather than fed inputs the model never saw."""
    if not hasattr(version, "split"):
        raise SealedReadError("The dataset version has no split, hence no test part.")
    test, labels = _test_items(version)
    if not test:
        raise SealedReadError("The test part has no labelled item to evaluate on.")
    kind = version.dataset.kind
    if kind == DatasetKind.TEXT:
        return SealedTestPart(x=[item.text for item in test], labels=labels)
    # The training items fix the features (columns with numbers, their training means; the
    # common image size): the same call inputs.load_inputs makes, with the test items in the
    # validation part's place.
    train = inputs.labelled_parts(version)[SplitPart.TRAIN]
    parts = {SplitPart.TRAIN: train, SplitPart.VALIDATION: test}
    notes: list[str] = []
    if kind == DatasetKind.IMAGE:
        _, x_test, shape = inputs.image_arrays(version, parts, notes)
        if image_shape is not None and tuple(shape) != tuple(image_shape):
            raise SealedReadError(
                f"The test images come out as {tuple(shape)} (channels, height, width) but the model was trained "
                f"on {tuple(image_shape)}."
            )
    else:
        _, x_test, _ = inputs.tabular_arrays(version, parts, notes)
    return SealedTestPart(x=x_test, labels=labels)
