from celery import shared_task

from prakriya.jobs.runner import job_execute
from prakriya.jobs.sweeper import jobs_sweep
from prakriya.jobs.task_names import RUN_JOB, SWEEP_JOBS


@shared_task(
    name=RUN_JOB, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_job(self, job_id: int) -> str | None:
    # The time limits the message was sent with (hard, soft): the job's own stop watch follows
    # them, so a worker pool that cannot enforce them (solo, threads) still stops the job.
    hard, soft = (tuple(self.request.timelimit or ()) + (None, None))[:2]
    return job_execute(job_id, time_limits=(int(soft), int(hard)) if soft and hard else None)


@shared_task(name=SWEEP_JOBS, ignore_result=True)
def sweep_jobs() -> dict:
    report = jobs_sweep()
    return {
        "requeued": report.requeued, "interrupted": report.interrupted, "dead": report.dead,
        "out_of_time": report.out_of_time,
    }
