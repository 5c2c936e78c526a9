"""The Celery task names of the job machinery. Services send the run task by name
(`send_task`), so no services module imports the tasks module (which imports the runner, which
imports the services). Renaming one strands the messages already queued under the old name."""

RUN_JOB = "prakriya.jobs.run"
SWEEP_JOBS = "prakriya.jobs.sweep"
