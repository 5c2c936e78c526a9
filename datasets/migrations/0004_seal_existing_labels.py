"""Installations that sealed items before the sealed store existed kept the sealed items' labels
on the items. This moves them into the store (encrypted with PRAKRIYA_SEALED_KEY), as a split does
today. The repositories are written again by `python manage.py seal_datasets` (the migration does
not run DVC); see docs/datasets-dvc.md."""

import json

from django.conf import settings
from django.db import migrations
from django.db.models import Q


def seal_existing(apps, schema_editor):
    from cryptography.fernet import Fernet, MultiFernet

    SealedItem = apps.get_model("datasets", "SealedItem")
    Item = apps.get_model("datasets", "Item")
    SealedLabel = apps.get_model("datasets", "SealedLabel")
    cipher = MultiFernet([Fernet(key.encode("ascii")) for key in settings.PRAKRIYA_SEALED_KEYS])
    for dataset_id in SealedItem.objects.values_list("dataset_id", flat=True).distinct():
        keys = set(SealedItem.objects.filter(dataset_id=dataset_id).values_list("key", flat=True))
        rows = (
            Item.objects.filter(version__dataset_id=dataset_id, key__in=keys)
            .filter(Q(label__isnull=False) | Q(spans__isnull=False) | ~Q(original_name=""))
            .values_list("pk", "version_id", "key", "label", "spans", "original_name")
        )
        sealed, ids = [], []
        for pk, version_id, key, label, spans, name in rows.iterator(chunk_size=5000):
            fields = {"label": label, "spans": spans, "original_name": name}
            token = cipher.encrypt(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8"))
            sealed.append(SealedLabel(version_id=version_id, key=key, source="dataset", token=token.decode("ascii"),
                                      labelled=label not in (None, "")))
            ids.append(pk)
        SealedLabel.objects.bulk_create(sealed, ignore_conflicts=True, batch_size=5000)
        for first in range(0, len(ids), 5000):
            Item.objects.filter(pk__in=ids[first:first + 5000]).update(label=None, spans=None, original_name="")


class Migration(migrations.Migration):
    dependencies = [("datasets", "0003_sealed_store")]

    operations = [migrations.RunPython(seal_existing, migrations.RunPython.noop)]
