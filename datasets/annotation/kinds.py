"""The job kinds of labelling campaigns, declared once: what a Job row's `kind` holds. Their work
and registration: jobs.py (active), agreement/jobs.py (agreement), labelstudio/jobs.py (Label
Studio sync)."""

# Trains the quick baseline of active.py on the labels so far and reorders the queue.
ACTIVE = "annotation_active"
AGREEMENT = "annotation_agreement"
LABELSTUDIO_SYNC = "annotation_labelstudio_sync"
