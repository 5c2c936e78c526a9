"""Adds scikit-learn's bundled digits to the demo project as its first dataset. Idempotent.

Kept apart from `seed_demo` (projects) because datasets depend on projects, never the reverse.
The version itself is written by the worker: the import is a job like any other."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from datasets import services
from datasets.models import DatasetKind
from projects.models import Project

DIGITS_SLUG = "handwritten-digits"


class Command(BaseCommand):
    help = "Add the bundled digits data to the demo project (safe to run again)."

    def handle(self, *args, **options) -> None:
        project = Project.objects.filter(slug=DIGITS_SLUG).first()
        engineer = get_user_model().objects.filter(username="engineer").first()
        if project is None or engineer is None:
            self.stdout.write("No demo project; run seed_demo first.")
            return
        if project.datasets.filter(slug="digits").exists():
            self.stdout.write("Demo dataset digits exists; left as it is.")
            return
        with transaction.atomic():
            dataset = services.dataset_create(
                project=project, actor=engineer, slug="digits", name="Handwritten digits (8×8)",
                kind=DatasetKind.IMAGE,
                description="scikit-learn's bundled digits: 1,797 greyscale 8×8 images of the ten digits.",
            )
            job = services.version_start_from_sklearn(dataset=dataset, actor=engineer, name="digits")
        self.stdout.write(self.style.SUCCESS(f"Created dataset digits; job {job.pk} writes its first version"))
