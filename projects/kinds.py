"""The job kinds of the projects app: their names (what a Job row's `kind` holds) and the bounds of
their parameters, declared once. The kinds' work and registration are in projects/jobs.py."""

PROJECT_EXPORT = "project_export"
# The longest pause between an export's sections (a demo, and the crash test, watch it mid-way).
MAX_PAUSE_SECONDS = 5.0
