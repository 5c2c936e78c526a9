from celery import shared_task

from prakriya.jobs.runner import job_execute
from prakriya.jobs.sweeper import jobs_sweep


@shared_task(name="prakriya.jobs.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> str | None:
    return job_execute(job_id)


@shared_task(name="prakriya.jobs.sweep", ignore_result=True)
def sweep_jobs() -> dict:
    report = jobs_sweep()
    return {"requeued": report.requeued, "interrupted": report.interrupted, "dead": report.dead}
