"""Adds a labelling campaign over the demo digits to the demo project. Idempotent.

Runs after `seed_demo_datasets`. The digits version is written by a job; when no worker has
written it yet (`make run` seeds before it starts the worker), the job is run here, in this
process, through the same job runner a worker uses."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from datasets import kinds as dataset_kinds
from datasets.annotation import services
from datasets.models import DatasetVersion, VersionState
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import Project

DIGITS_SLUG = "handwritten-digits"
CAMPAIGN_SLUG = "digit-labels"
DEFINITIONS = {
    "1": "A single stroke, sometimes with a flag at the top and a base.",
    "7": "A horizontal top bar and a diagonal down stroke; a crossed 7 is still a 7.",
    "9": "A closed loop at the top with a straight or curved tail; not a 4 with a closed top.",
}


class Command(BaseCommand):
    help = "Add a labelling campaign over the demo digits (safe to run again)."

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        project = Project.objects.filter(slug=DIGITS_SLUG).first()
        lead = users.filter(username="lead").first()
        if project is None or lead is None or not project.datasets.filter(slug="digits").exists():
            self.stdout.write("No demo digits; run seed_demo and seed_demo_datasets first.")
            return
        if project.campaigns.filter(slug=CAMPAIGN_SLUG).exists():
            self.stdout.write("Demo campaign exists; left as it is.")
            return
        version = DatasetVersion.objects.filter(dataset__project=project, dataset__slug="digits").order_by("number").first()
        if version is None or version.state != VersionState.READY:
            for job in Job.objects.filter(project=project, kind=dataset_kinds.VERSION_WRITE, state=JobState.QUEUED):
                self.stdout.write(f"Writing the digits version (job {job.pk}) before the worker starts…")
                job_execute(job.pk)
            version = (
                DatasetVersion.objects.filter(dataset__project=project, dataset__slug="digits", state=VersionState.READY)
                .order_by("number").first()
            )
        if version is None:
            self.stdout.write("The digits version is not ready; run this again once the worker has written it.")
            return
        annotators = list(users.filter(username__in=["annotator1", "annotator2", "engineer"]).order_by("username"))
        campaign = services.campaign_create(
            version=version, actor=lead, name="Digit labels", slug=CAMPAIGN_SLUG, task_type="single",
            labels=[{"name": str(d), "shortcut": str(d)} for d in range(10)], overlap=2, blind=True,
            order="random", seed=1, annotators=annotators,
            introduction="Label each scanned digit as the writer meant it. When unsure, skip (Esc).",
            definitions=DEFINITIONS,
        )
        self.stdout.write(self.style.SUCCESS(
            f"Created campaign {campaign.slug}: {campaign.items.count()} items, overlap 2, "
            f"annotators {', '.join(u.username for u in annotators)}"
        ))
