"""Deployment (stage 7): ONNX exports of a project's runs, their benchmarks against the project's
targets, deployments that serve exports with a staged rollout, the keys that call them and the log
of what they predicted.

An export is one `.onnx` file the platform produced itself (never an upload), stored as an
artifact of the run it came from and identified by its SHA-256: a serving process loads it by that
digest and refuses bytes that do not match.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportState(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Variant(models.TextChoices):
    FP32 = "fp32", "fp32"
    INT8_DYNAMIC = "int8-dynamic", "int8 (dynamic quantisation)"
    INT8_STATIC = "int8-static", "int8 (static quantisation)"
    PRUNED = "pruned", "Pruned"


class ModelExport(models.Model):
    """One ONNX model made from a run: the fp32 export, or a variant of it (quantised, pruned)
    made by the same job and kept beside it with its accuracy and size change."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="model_exports")
    run = models.ForeignKey("experiments.Run", on_delete=models.CASCADE, related_name="model_exports")
    # The fp32 export a variant was derived from (None for the fp32 export itself).
    base = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="variants")
    variant = models.CharField(max_length=16, choices=Variant.choices, default=Variant.FP32)
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.PENDING)
    # What the job was asked for (quantisation, sparsity…), as validated by the service.
    options = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trainer = models.CharField(max_length=40, blank=True)
    opset = models.PositiveSmallIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # The artifact path in the run's MLflow artifact store, and the registered model version.
    artifact_path = models.CharField(max_length=300, blank=True)
    model_version = models.CharField(max_length=20, blank=True)
    # What the model takes and gives: kind (tabular/image/text), input names, feature count or
    # image shape, class names. The prediction endpoint validates against it and documents it.
    input_schema = models.JSONField(default=dict, blank=True)
    # Parity with the original model on the validation part: max |Δscore|, agreement of the
    # predicted classes, the number of items and the tolerance that applied.
    parity = models.JSONField(default=dict, blank=True)
    # Validation accuracy of this model, and for a variant its change against the fp32 export.
    metrics = models.JSONField(default=dict, blank=True)
    # The model card (fp32 export only): every number with the place it came from.
    card = models.JSONField(default=dict, blank=True)
    failure = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"])]

    def __str__(self) -> str:
        name = f"Export {self.pk}"
        return name if self.variant == Variant.FP32 else f"{name} ({self.variant})"

    @property
    def is_ready(self) -> bool:
        return self.state == ExportState.READY


class Benchmark(models.Model):
    """Latency, throughput, memory and size of an export under ONNX Runtime beside the original
    model in the same run, and the project's targets checked against them."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="benchmarks")
    export = models.ForeignKey(ModelExport, on_delete=models.CASCADE, related_name="benchmarks")
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True)
    # Each target with its measured value and met / missed / not measured.
    targets = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Benchmark {self.pk} of {self.export}"

    @property
    def inside_targets(self) -> bool | None:
        """True when every target it measured is met, False when one is missed, None before it
        has results."""
        if not self.finished_at:
            return None
        return all(row.get("met") is not False for row in self.targets)


class Deployment(models.Model):
    """A served model: the stable export answers every caller but the canary's share, which the
    canary export answers (sticky per caller). `revision` counts rollout changes."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="deployments")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    stable = models.ForeignKey(ModelExport, on_delete=models.PROTECT, related_name="+")
    canary = models.ForeignKey(ModelExport, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    canary_percent = models.PositiveSmallIntegerField(default=0)
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="unique_deployment_slug"),
            models.CheckConstraint(condition=Q(canary_percent__lte=100), name="canary_percent_at_most_100"),
        ]

    def __str__(self) -> str:
        return self.name


class RolloutAction(models.TextChoices):
    CREATE = "create", "Created"
    CANARY = "canary", "Canary started"
    SHARE = "share", "Canary share changed"
    PROMOTE = "promote", "Promoted"
    ROLLBACK = "rollback", "Rolled back"


class RolloutEvent(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=10, choices=RolloutAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    stable = models.ForeignKey(ModelExport, on_delete=models.SET_NULL, null=True, related_name="+")
    canary = models.ForeignKey(ModelExport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    canary_percent = models.PositiveSmallIntegerField(default=0)
    # A promotion past a missed or missing benchmark: the lead's reason, kept with the event.
    override_reason = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.deployment}"


class DeploymentKey(models.Model):
    """A secret that calls one deployment's prediction endpoint. Only its SHA-256 is kept (the
    key is 32 random bytes, so a fast hash is enough); the prefix tells keys apart on the page."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Prediction(models.Model):
    """One answer of a deployment. The input is kept as the project's privacy setting says
    (Project.prediction_inputs): whole, as a SHA-256 only, or not at all."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="predictions")
    export = models.ForeignKey(ModelExport, on_delete=models.CASCADE, related_name="+")
    # Who called, as a stable pseudonym (key id or user id hashed with the deployment): the
    # rollout's stickiness and per-caller counts need it, the log need not name anyone.
    caller = models.CharField(max_length=16)
    label = models.CharField(max_length=200)
    score = models.FloatField()
    latency_ms = models.FloatField()
    input_hash = models.CharField(max_length=64, blank=True)
    input = models.JSONField(null=True, blank=True)
    # A few numbers about the input that drift is measured on whatever the privacy setting (an
    # image's mean and spread of intensity, a text's length); never enough to rebuild the input.
    stats = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.score:.2f}) by {self.deployment}"


# --- Drift and the loop back to labelling (deployments/drift/, deployments/loopback/) ----------


class DriftReport(models.Model):
    """One drift check of a deployment: its stable export's recent traffic (the window) against
    the training part of that export's run, by population stability index (PSI).

    `features` maps each measured feature or statistic to {"psi", "source" ("stats": the numbers
    every prediction keeps; "input": read from stored inputs), "edges" (the training quantile
    bins' inner edges), "expected" and "actual" (the training and production share of each bin)}:
    bin shares and edges, never an input value."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="drift_reports")
    export = models.ForeignKey(ModelExport, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The predictions compared: {"predictions": n, "first": iso time, "last": iso time, "days": D, "limit": N}.
    window = models.JSONField(default=dict, blank=True)
    features = models.JSONField(default=dict, blank=True)
    # PSI of the predicted labels against the training part's label distribution.
    prediction_psi = models.FloatField(null=True, blank=True)
    prediction_shares = models.JSONField(default=dict, blank=True)  # {"classes", "expected", "actual"}
    mean_confidence = models.FloatField(null=True, blank=True)
    # The export's mean top probability on the validation part, when its export job recorded it.
    reference_confidence = models.FloatField(null=True, blank=True)
    # The feature, statistic or "predictions" with the largest PSI, and that PSI.
    worst = models.CharField(max_length=200, blank=True)
    worst_psi = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    drifted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "-created_at"])]

    def __str__(self) -> str:
        return f"Drift check {self.pk} of {self.deployment}"


class LoopbackStrategy(models.TextChoices):
    LOWEST_CONFIDENCE = "lowest_confidence", "Lowest confidence first"
    DRIFTED = "drifted", "The most drifted slice"


class Loopback(models.Model):
    """Production inputs sent back to labelling: the sampled predictions (in the order chosen),
    the dataset version they become (written by its job) and the campaign made over it once the
    version is written."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="loopbacks")
    strategy = models.CharField(max_length=20, choices=LoopbackStrategy.choices)
    # Prediction ids in the order the campaign's queue follows.
    predictions = models.JSONField(default=list)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.SET_NULL, null=True, related_name="+")
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    version = models.ForeignKey("datasets.DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    # Who the campaign is assigned to (user ids); None: the project's annotators when it is made.
    annotator_ids = models.JSONField(null=True, blank=True)
    # Why the campaign could not be made once the version was written.
    failure = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Loop back {self.pk} of {self.deployment}"


# --- Batch prediction (deployments/batch/) ----------------------------------------------------


class BatchState(models.TextChoices):
    PENDING = "pending", "Scoring"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class BatchPrediction(models.Model):
    """A dataset version scored by one version (export) of a deployment: a CSV of every item's
    predicted label, score and class probabilities, written by a job into the data folder.

    Items of the dataset's sealed test set are never read: they are left out and counted
    (`sealed_left_out`), as are items whose input could not be read (`unreadable`, with why in
    `notes`)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="batch_predictions")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="batch_predictions")
    # The version of the deployment that scored: its stable or its canary export when asked for.
    export = models.ForeignKey(ModelExport, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("datasets.DatasetVersion", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=10, choices=BatchState.choices, default=BatchState.PENDING)
    # The version's items, those scored (one row each in the file), the sealed test items left out
    # and those whose input could not be read.
    items = models.PositiveIntegerField(default=0)
    scored = models.PositiveIntegerField(default=0)
    sealed_left_out = models.PositiveIntegerField(default=0)
    unreadable = models.PositiveIntegerField(default=0)
    # Why items were left out, for people (never an item's label).
    notes = models.JSONField(default=list, blank=True)
    # The CSV, relative to the data folder (written by the job only), its SHA-256 and size.
    file_path = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    failure = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "-created_at"])]

    def __str__(self) -> str:
        return f"Batch prediction {self.pk} of {self.deployment}"

    @property
    def is_ready(self) -> bool:
        return self.state == BatchState.READY
