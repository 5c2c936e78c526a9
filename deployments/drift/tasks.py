"""Beat's periodic drift checks (settings.CELERY_BEAT_SCHEDULE "drift-checks"): a thin task that
starts one drift-check job per deployment due."""

from celery import shared_task

from deployments.drift.services import drift_checks_start_due

CHECKS_START = "deployments.drift.checks_start"


@shared_task(name=CHECKS_START, ignore_result=True)
def drift_checks_start() -> dict:
    return {"started": [job.pk for job in drift_checks_start_due()]}
