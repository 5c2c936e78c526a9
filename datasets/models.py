"""Datasets, their immutable versions (stored with DVC in the project's repository), the items of
each version, data profiles, splits with the sealed test set, and the data document."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DatasetKind(models.TextChoices):
    TABULAR = "tabular", "Tabular"
    TEXT = "text", "Text classification"
    IMAGE = "image", "Image classification"


class Dataset(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="datasets")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=DatasetKind.choices)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="unique_dataset_slug")]

    def __str__(self) -> str:
        return self.name


class VersionState(models.TextChoices):
    PENDING = "pending", "Being written"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DatasetVersion(models.Model):
    """One immutable version: a git commit and tag in the project's repository whose DVC-tracked
    folder holds exactly these bytes."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    message = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=VersionState.choices, default=VersionState.PENDING)
    error = models.TextField(blank=True)
    git_commit = models.CharField(max_length=40, blank=True)
    git_tag = models.CharField(max_length=120, blank=True)
    dvc_md5 = models.CharField(max_length=64, blank=True, help_text="DVC's hash of the version's folder")
    item_count = models.PositiveIntegerField(default=0)
    labelled_count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)
    columns = models.JSONField(default=list, blank=True, help_text="Tabular: feature columns in order")
    # Which of the dataset's sealed keys this version's committed files were last written without
    # the labels of (datasets.selectors.sealed_fingerprint of those keys): when the dataset's
    # sealed set grows over keys of this version, the fingerprint differs and the seal job writes
    # the version's files again, with those labels left out (datasets/sealing.py).
    sealed_fingerprint = models.CharField(max_length=64, blank=True)
    # The job that writes the version: a job re-run after a crash finds its version again.
    job = models.OneToOneField("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="unique_version_number")]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"

    @property
    def label(self) -> str:
        return f"v{self.number}"


class Item(models.Model):
    """One item of a version. `key` is stable across versions of a dataset (an added item gets a
    new key, a relabelled one keeps its key) and never contains the label."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=200)
    label = models.CharField(max_length=200, null=True, blank=True)
    content_hash = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField(default=0)
    # What is shown of the item: the text for text items, the row for tabular ones, the
    # relative file path and original name for images.
    text = models.TextField(blank=True)
    row = models.JSONField(null=True, blank=True)
    file_path = models.CharField(max_length=300, blank=True)
    original_name = models.CharField(max_length=300, blank=True)
    # Text items: labelled spans of the text as texts.jsonl stores them, [{"start", "end", "label"}]
    # in Unicode code points; null when the item has no span annotation. Spans are labels: sealed
    # items' spans are withheld like their labels (datasets.selectors.VisibleItem).
    spans = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["version", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="unique_item_key")]
        indexes = [models.Index(fields=["version", "label"])]

    def __str__(self) -> str:
        return self.key


class Profile(models.Model):
    """The data-understanding report of a version. When the dataset has sealed items, the
    profile is computed without them, so no sealed label can appear in it."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="profiles")
    excludes_sealed = models.PositiveIntegerField(default=0, help_text="How many sealed items were left out")
    sealed_fingerprint = models.CharField(max_length=64, blank=True)
    report = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    rows_per_second = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Profile of {self.version}"


class SplitPart(models.TextChoices):
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"
    TEST = "test", "Test (sealed)"


class Split(models.Model):
    version = models.OneToOneField(DatasetVersion, on_delete=models.CASCADE, related_name="split")
    seed = models.PositiveIntegerField()
    train_fraction = models.FloatField()
    validation_fraction = models.FloatField()
    test_fraction = models.FloatField()
    stratified = models.BooleanField(default=True)
    counts = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Split of {self.version} (seed {self.seed})"


class SplitAssignment(models.Model):
    split = models.ForeignKey(Split, on_delete=models.CASCADE, related_name="assignments")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="assignment")
    part = models.CharField(max_length=10, choices=SplitPart.choices)

    class Meta:
        indexes = [models.Index(fields=["split", "part"])]

    def __str__(self) -> str:
        return f"{self.item} → {self.part}"


class SealedItem(models.Model):
    """An item key of a dataset whose label is sealed: in every version of the dataset, the
    label of an item with this key is shown to nobody until a sealed evaluation reads it in a job."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="sealed_items")
    key = models.CharField(max_length=200)
    split = models.ForeignKey(Split, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "key"], name="unique_sealed_key")]

    def __str__(self) -> str:
        return f"sealed {self.key}"


class SealedLabel(models.Model):
    """What a sealed item had that would tell its label, moved out of the item and out of the
    repository when it was sealed, encrypted with PRAKRIYA_SEALED_KEY (datasets/sealed_store.py).

    `source` is "dataset" for the item's own label, spans and uploaded name in `version`, which the
    sealed evaluation reads (and nothing else does); "campaign:<id>" for the annotations and gold
    label a labelling campaign held for the item when it was sealed, kept so that no one's work is
    lost, read by nothing."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="sealed_labels")
    key = models.CharField(max_length=200)
    source = models.CharField(max_length=40, default="dataset")
    token = models.TextField(help_text="Fernet token of the item's sealed fields (JSON)")
    # Whether the item had a label (not which): versions count their labelled items.
    labelled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "key", "source"], name="unique_sealed_label"),
        ]

    def __str__(self) -> str:
        return f"sealed label of {self.key} ({self.source})"


class VersionRevision(models.Model):
    """A commit a version's tag named before the platform wrote the version's files again to
    leave sealed labels out. The bytes of the items are the same; the old commit's label files
    are gone from the DVC cache and remote, so a run that recorded the old commit is traced to
    the version through here."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="revisions")
    old_commit = models.CharField(max_length=40)
    old_dvc_md5 = models.CharField(max_length=64, blank=True)
    new_commit = models.CharField(max_length=40)
    new_dvc_md5 = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.version}: {self.old_commit[:12]} → {self.new_commit[:12]}"


class CollectionMode(models.TextChoices):
    DEPLOYED = "deployed", "From an existing deployed system"
    HARVESTED = "harvested", "Harvested from existing sources"
    COLLECTED = "collected", "Collected for this task"
    GENERATED = "generated", "Generated or augmented"


class DataDocument(models.Model):
    """The datasheet of a dataset, pinned to a version. Reviewed as part of the project's
    data document deliverable."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="document")
    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="+")
    collection_mode = models.CharField(max_length=12, choices=CollectionMode.choices)
    collection_description = models.TextField(blank=True)
    representativeness = models.TextField(blank=True)
    semantics = models.TextField(blank=True, help_text="What the fields mean; which are salient")
    labelling_process = models.TextField(blank=True)
    quality_assessment = models.TextField(blank=True, help_text="Subjective assessment of quality and quantity")
    known_issues = models.TextField(blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Data document of {self.dataset}"
