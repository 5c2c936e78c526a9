"""The fields of a project's charter, the project page's narrative: what the charter form edits,
what a revision snapshots and what an export carries."""

CHARTER_FIELDS = (
    "title",
    "summary",
    "problem_statement",
    "current_process",
    "ml_role",
    "value_notes",
    "feasibility_data",
    "feasibility_data_notes",
    "feasibility_prior_work",
    "feasibility_prior_work_notes",
    "feasibility_team",
    "feasibility_team_notes",
)
