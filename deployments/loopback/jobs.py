"""The loop back's part in the datasets app's version-writing job: its campaign is made when the
version it asked for is written (see deployments/loopback/services.py)."""

from datasets import hooks
from deployments.loopback.services import loopback_version_written

hooks.register_version_listener(loopback_version_written)
