"""Bring every dataset with sealed items in line with the sealed store: campaigns give up their
sealed items and a job writes the repository's versions again without sealed labels. Needed once
on installations that split datasets before the sealed store existed; harmless to run again."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from datasets import kinds, sealing
from datasets.models import Dataset


class Command(BaseCommand):
    help = "Seal the items of every split dataset everywhere: campaigns, the items, the repository (a job)."

    def handle(self, *args, **options):
        datasets = Dataset.objects.filter(sealed_items__isnull=False).distinct().select_related("project")
        for dataset in datasets:
            keys = sorted(dataset.sealed_items.values_list("key", flat=True))
            with transaction.atomic():
                notes = sealing.keys_seal(dataset=dataset, keys=keys)
            stale = sealing.versions_stale(dataset)
            self.stdout.write(
                f"{dataset.project.slug}/{dataset.slug}: {len(keys)} sealed keys; "
                f"{len(stale)} versions to write again" + "".join(f"; {note}" for note in notes)
            )
        self.stdout.write(f"Done. The repositories are written again by {kinds.SEAL} jobs on the workers.")
