from __future__ import annotations

import operator

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private"


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    ENGINEER = "engineer", "Engineer"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class DeliverableKind(models.TextChoices):
    # Declared in process order: the order is the stage order.
    PROJECT_PAGE = "project_page", "Project page"
    DATA_DOCUMENT = "data_document", "Data document"
    BASELINES = "baselines", "Baselines and end-to-end module"
    LITERATURE_SURVEY = "literature_survey", "Literature survey"
    MODEL_IMPROVEMENT = "model_improvement", "Model improvement"
    ERROR_ANALYSIS = "error_analysis", "Error analysis and test evaluation"
    DEPLOYMENT = "deployment", "Deployment"
    EXPERIENCE_REPORT = "experience_report", "Experience report"


DELIVERABLE_ORDER = [kind.value for kind in DeliverableKind]
STAGE_COMPLETE = "complete"
STAGE_CHOICES = [*DeliverableKind.choices, (STAGE_COMPLETE, "Complete")]


class DeliverableState(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"


class Rating(models.IntegerChoices):
    UNKNOWN = 0, "Not assessed"
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"


class PredictionInputs(models.TextChoices):
    """What a deployment's prediction log keeps of each input."""

    STORE = "store", "Store the input (needed to send production inputs back to labelling)"
    HASH = "hash", "Store only a SHA-256 of the input"
    DROP = "drop", "Store nothing of the input"


class Tag(models.Model):
    name = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True, help_text="One sentence for the directory")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    tags = models.ManyToManyField(Tag, blank=True, related_name="projects")
    stage = models.CharField(
        max_length=32,
        choices=STAGE_CHOICES,
        default=DeliverableKind.PROJECT_PAGE,
        db_index=True,
        help_text="Follows from the approved deliverables; never set by hand",
    )

    # The charter (deliverable 1). Markdown, rendered sanitised.
    problem_statement = models.TextField(blank=True)
    current_process = models.TextField(blank=True, help_text="The business-as-usual process today")
    ml_role = models.TextField(blank=True, help_text="The role ML will play in that process")
    value_notes = models.TextField(blank=True)
    feasibility_data = models.PositiveSmallIntegerField(choices=Rating.choices, default=Rating.UNKNOWN)
    feasibility_data_notes = models.TextField(blank=True)
    feasibility_prior_work = models.PositiveSmallIntegerField(choices=Rating.choices, default=Rating.UNKNOWN)
    feasibility_prior_work_notes = models.TextField(blank=True)
    feasibility_team = models.PositiveSmallIntegerField(choices=Rating.choices, default=Rating.UNKNOWN)
    feasibility_team_notes = models.TextField(blank=True)
    # Privacy of the deployments' prediction logs.
    prediction_inputs = models.CharField(
        max_length=8, choices=PredictionInputs.choices, default=PredictionInputs.HASH
    )

    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def is_complete(self) -> bool:
        """Every deliverable approved, the deployment and its experience report included: what the
        process calls a success (the directory and the project page mark it)."""
        return self.stage == STAGE_COMPLETE

    @property
    def primary_target(self) -> Target | None:
        return self.targets.filter(is_primary=True).first()


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]
        ordering = ["role", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} – {self.role} of {self.project}"


class Comparator(models.TextChoices):
    LE = "<=", "≤"
    LT = "<", "<"
    GE = ">=", "≥"
    GT = ">", ">"


_COMPARE = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


class Target(models.Model):
    """An expectation the project commits to, as data: later stages check results against it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(max_length=80, help_text="e.g. accuracy, latency_p95, model_size, precision")
    comparator = models.CharField(max_length=2, choices=Comparator.choices)
    threshold = models.FloatField()
    unit = models.CharField(max_length=20, blank=True, help_text="e.g. ms, MB, or empty for a ratio")
    condition = models.CharField(
        max_length=120, blank=True, help_text="Operating point, e.g. 'at 20% coverage' or 'at recall 0.9'"
    )
    is_primary = models.BooleanField(default=False)
    notes = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-is_primary", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_primary=True), name="at_most_one_primary_target"
            ),
            models.UniqueConstraint(fields=["project", "metric", "condition"], name="unique_target_metric"),
        ]

    def __str__(self) -> str:
        text = f"{self.metric} {self.get_comparator_display()} {self.threshold:g}"
        if self.unit:
            text += f" {self.unit}"
        if self.condition:
            text += f" {self.condition}"
        return text

    def is_met_by(self, value: float) -> bool:
        return _COMPARE[self.comparator](value, self.threshold)


class ValueEstimate(models.Model):
    """Value in numbers: a quantity as it is today against what the project expects with ML."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="value_estimates")
    quantity = models.CharField(max_length=120, help_text="e.g. minutes to process one form")
    current = models.FloatField(help_text="With the current practice")
    expected = models.FloatField(help_text="Expected with the ML system")
    unit = models.CharField(max_length=30, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.quantity}: {self.current:g} → {self.expected:g} {self.unit}".strip()

    @property
    def change_percent(self) -> float | None:
        if self.current == 0:
            return None
        return (self.expected - self.current) / abs(self.current) * 100.0


class Deliverable(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deliverables")
    kind = models.CharField(max_length=32, choices=DeliverableKind.choices)
    state = models.CharField(
        max_length=20, choices=DeliverableState.choices, default=DeliverableState.NOT_STARTED
    )
    body = models.TextField(
        blank=True, help_text="Markdown; the project page deliverable is the charter itself"
    )
    # The MLflow run ids the author chose as this deliverable's evidence (model improvement: the
    # runs whose curves argue for the choices made; error analysis: the analysed run first).
    evidence_runs = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "kind"], name="one_deliverable_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.project}"

    @property
    def order(self) -> int:
        return DELIVERABLE_ORDER.index(self.kind)


class DeliverableTransition(models.Model):
    deliverable = models.ForeignKey(Deliverable, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20, choices=DeliverableState.choices)
    to_state = models.CharField(max_length=20, choices=DeliverableState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.deliverable}: {self.from_state} → {self.to_state}"


class DeliverableSnapshot(models.Model):
    """What a lead approved, frozen: the narrative and the evidence as it read at approval (its
    HTML, its text for diffs, the versions the numbers came from) and a SHA-256 of all of it.
    Written once by projects.evidence.snapshot_freeze and never updated: a reopened deliverable
    gets a new draft, and every approval stays readable here."""

    deliverable = models.ForeignKey(Deliverable, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    approved_at = models.DateTimeField(auto_now_add=True)
    body = models.TextField(blank=True)
    # [{"title": ..., "html": ...}]: each evidence section as a project viewer read it.
    sections = models.JSONField(default=list)
    # {section title: its text, one fact per line}: what "changed since approval" compares.
    text = models.JSONField(default=dict)
    # {what: version}: the dataset, label, run and code versions behind the numbers.
    versions = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["deliverable", "number"], name="unique_snapshot_number")
        ]

    def __str__(self) -> str:
        return f"{self.deliverable} approval {self.number}"


class ProjectRevision(models.Model):
    """A snapshot of the charter after each save, so the page's history can be diffed."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    snapshot = models.JSONField()
    summary = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_revision_number")]

    def __str__(self) -> str:
        return f"{self.project} r{self.number}"


class TimelineEvent(models.Model):
    """The project's chronicle: everything that happened, newest first."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="timeline")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    verb = models.CharField(max_length=40, db_index=True)
    text = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.text


class Feasibility(models.IntegerChoices):
    """How feasible an approach from the literature is for this team (stored as a number so the
    survey sorts from least to most feasible)."""

    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"


EARLIEST_PUBLICATION_YEAR = 1900


def validate_publication_year(value: int) -> None:
    # Next year is allowed: papers appear with next year's date before it starts.
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    latest = timezone.now().year + 1
    if not EARLIEST_PUBLICATION_YEAR <= value <= latest:
        raise ValidationError(f"The year must be between {EARLIEST_PUBLICATION_YEAR} and {latest}.")


class LiteratureEntry(models.Model):
    """One piece of prior work in the literature survey (deliverable 4)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="literature")
    title = models.CharField(max_length=300)
    authors = models.CharField(max_length=500, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True, validators=[validate_publication_year])
    link = models.URLField(
        max_length=500, blank=True, validators=[URLValidator(schemes=["http", "https"], message="Enter an http or https address.")],
        help_text="http or https address of the paper or code",
    )
    approach = models.TextField(blank=True, max_length=5000)
    reported_result = models.CharField(max_length=300, blank=True, help_text="e.g. 99.2% accuracy on MNIST")
    benchmark = models.CharField(max_length=200, blank=True, help_text="The dataset or task the result is on")
    compute_needed = models.CharField(max_length=300, blank=True, help_text="e.g. 8 GPU-hours, runs on a CPU")
    feasibility = models.PositiveSmallIntegerField(choices=Feasibility.choices, default=Feasibility.MEDIUM)
    notes = models.TextField(blank=True, help_text="Markdown")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "literature entries"

    def __str__(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title
