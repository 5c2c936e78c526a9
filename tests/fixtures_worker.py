"""Fixtures that start real Celery worker processes (filled in by the jobs tests)."""
