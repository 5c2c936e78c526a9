"""Who may see and log runs, by role; the same rules for the pages, the API and the tracking
server at /mlflow/."""

from __future__ import annotations

from projects import permissions
from projects.models import Role

# Runs of a public project are public (its loss curves are on its page). Those of a private
# project are for the members who work on or follow the model: annotators label data and see
# no experiments.
VIEW_PRIVATE_RUNS = frozenset({Role.LEAD, Role.ENGINEER, Role.VIEWER})
# Logging runs (and creating the project's experiment) is launching work, as a training job is.
LOG_RUNS = permissions.LAUNCH_JOBS
