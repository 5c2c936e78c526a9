import pytest
from django.core.management import call_command

from datasets.models import Dataset, VersionState
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute


@pytest.mark.django_db(transaction=True)
def test_demo_digits_dataset_is_imported_once_and_written_by_its_job():
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    call_command("seed_demo_datasets", stdout=open("/dev/null", "w"))
    call_command("seed_demo_datasets", stdout=open("/dev/null", "w"))

    dataset = Dataset.objects.get(project__slug="handwritten-digits", slug="digits")
    jobs = Job.objects.filter(kind="dataset_version_write")
    assert jobs.count() == 1

    assert job_execute(jobs.get().pk) == JobState.SUCCEEDED
    version = dataset.versions.get()
    assert version.state == VersionState.READY
    assert version.item_count == 1797
    assert version.labelled_count == 1797
    assert version.git_tag == "digits-v1"
    assert set(version.items.values_list("label", flat=True)) == {str(d) for d in range(10)}
