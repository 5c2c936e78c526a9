"""The store of sealed labels: what a sealed item had that would tell its label (its label, spans
and uploaded name; the annotations a campaign held for it), kept out of the items, out of the
campaigns and out of the repository, encrypted at rest with PRAKRIYA_SEALED_KEY.

Writing is open to the services that seal (datasets.sealing, the version write job). Reading is
`dataset_labels_read`, which only the sealed evaluation job calls
(experiments.evaluation.sealed; tests/datasets/test_sealed_store.py checks that nothing else
imports it). Fernet tokens carry a random IV, so two equal labels never give equal tokens: the
stored rows tell nothing of the labels without the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

from datasets.models import DatasetVersion, SealedLabel

DATASET_SOURCE = "dataset"
BATCH = 5000


class SealedKeyError(Exception):
    """The sealed labels cannot be decrypted with the configured keys (PRAKRIYA_SEALED_KEY changed
    without keeping the old key); the message names no item and no label."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]):
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def _cipher():
    return _fernet(tuple(settings.PRAKRIYA_SEALED_KEYS))


def campaign_source(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def records_write(*, version: DatasetVersion, records: dict[str, dict], source: str = DATASET_SOURCE) -> int:
    """Encrypts and keeps `records` (item key → JSON-serialisable fields) for `version`. A key
    already kept for this version and source keeps its first record: what was sealed first is
    what the item held before anything could change it. Returns how many rows were added."""
    if not records:
        return 0
    cipher = _cipher()
    rows = [
        SealedLabel(
            version=version, key=key, source=source, labelled=fields.get("label") not in (None, ""),
            token=cipher.encrypt(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")).decode("ascii"),
        )
        for key, fields in records.items()
    ]
    before = SealedLabel.objects.filter(version=version, source=source).count()
    SealedLabel.objects.bulk_create(rows, ignore_conflicts=True, batch_size=BATCH)
    return SealedLabel.objects.filter(version=version, source=source).count() - before


def records_carry(*, parent: DatasetVersion, version: DatasetVersion, keys: Iterable[str]) -> int:
    """A derived version keeps its parent's sealed records of the sealed items it keeps (derived
    versions may not change them): the tokens are copied as they are, never decrypted."""
    wanted = list(keys)
    rows = []
    for first in range(0, len(wanted), BATCH):
        rows += [
            SealedLabel(version=version, key=key, source=DATASET_SOURCE, token=token, labelled=labelled)
            for key, token, labelled in SealedLabel.objects.filter(
                version=parent, source=DATASET_SOURCE, key__in=wanted[first:first + BATCH]
            ).values_list("key", "token", "labelled")
        ]
    SealedLabel.objects.bulk_create(rows, ignore_conflicts=True, batch_size=BATCH)
    return len(rows)


def labelled_count(*, version: DatasetVersion) -> int:
    """How many of the version's sealed items have a label (in the store)."""
    return SealedLabel.objects.filter(version=version, source=DATASET_SOURCE, labelled=True).count()


def dataset_labels_read(*, version: DatasetVersion, keys: Iterable[str]) -> dict[str, str]:
    """Item key → sealed label of `version`, for the given keys that have one. Only the sealed
    evaluation job calls this (see the module's docstring)."""
    from cryptography.fernet import InvalidToken

    wanted = list(dict.fromkeys(keys))
    cipher = _cipher()
    labels: dict[str, str] = {}
    for first in range(0, len(wanted), BATCH):
        rows = SealedLabel.objects.filter(
            version=version, source=DATASET_SOURCE, key__in=wanted[first:first + BATCH]
        ).values_list("key", "token")
        for key, token in rows:
            try:
                fields = json.loads(cipher.decrypt(token.encode("ascii")))
            except (InvalidToken, ValueError):
                raise SealedKeyError(
                    "The sealed labels cannot be decrypted with PRAKRIYA_SEALED_KEY: the key they were sealed "
                    "with must be among its keys."
                ) from None
            if fields.get("label") not in (None, ""):
                labels[key] = str(fields["label"])
    return labels
