"""Labelling campaigns: who labels which items of a dataset version, under which schema and
guideline, and what they said. The queue's invariants (never more than `capacity` annotators per
item, one annotation per item and annotator, one live claim per annotator) are database
constraints, not just service code, because many annotators claim at once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class TaskType(models.TextChoices):
    SINGLE = "single", "Single label"
    MULTI = "multi", "Multiple labels"
    SPAN = "span", "Text spans (named entities)"


class QueueOrder(models.TextChoices):
    RANDOM = "random", "Random (seeded)"
    SEQUENTIAL = "sequential", "Sequential"
    UNCERTAINTY = "uncertainty", "Most uncertain first (active labelling)"


class CampaignState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Tool(models.TextChoices):
    PLATFORM = "platform", "Prakriya"
    API = "api", "API"
    LABEL_STUDIO = "labelstudio", "Label Studio"


class Campaign(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="campaigns")
    version = models.ForeignKey("datasets.DatasetVersion", on_delete=models.PROTECT, related_name="campaigns")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    task_type = models.CharField(max_length=10, choices=TaskType.choices)
    overlap = models.PositiveSmallIntegerField(default=1, help_text="How many different annotators label each item")
    blind = models.BooleanField(default=True, help_text="Annotators do not see each other's labels")
    order = models.CharField(max_length=12, choices=QueueOrder.choices, default=QueueOrder.RANDOM)
    seed = models.PositiveIntegerField(default=0)
    lock_ttl_seconds = models.PositiveIntegerField(
        default=600, help_text="A claimed item returns to the queue when its annotator is away this long"
    )
    state = models.CharField(max_length=8, choices=CampaignState.choices, default=CampaignState.OPEN)
    annotators = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="annotation_campaigns")
    labelstudio_project_id = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="campaign_unique_slug"),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"

    @property
    def media(self) -> str:
        return "image" if self.version.dataset.kind == "image" else "text"


class LabelChoice(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=100)
    colour = models.CharField(max_length=7, default="#1f77b4")
    shortcut = models.CharField(max_length=1, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="label_unique_name"),
            models.UniqueConstraint(
                fields=["campaign", "shortcut"], condition=~Q(shortcut=""), name="label_unique_shortcut"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GuidelineVersion(models.Model):
    """One immutable version of a campaign's labelling guideline. Annotations point at the
    version they were made under; `caused_by` ties a change to the disagreements behind it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="guideline_versions")
    number = models.PositiveIntegerField()
    introduction = models.TextField(blank=True)
    change_note = models.TextField(blank=True, help_text="What changed and why")
    caused_by = models.ManyToManyField("CampaignItem", blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="guideline_unique_number")]

    def __str__(self) -> str:
        return f"{self.campaign} guideline v{self.number}"


class LabelDefinition(models.Model):
    guideline = models.ForeignKey(GuidelineVersion, on_delete=models.CASCADE, related_name="definitions")
    label = models.CharField(max_length=100)
    definition = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["guideline", "label"], name="definition_unique_label")]

    def __str__(self) -> str:
        return f"{self.label}: {self.definition[:40]}"



class GuidelineExample(models.Model):
    guideline = models.ForeignKey(GuidelineVersion, on_delete=models.CASCADE, related_name="examples")
    label = models.CharField(max_length=100)
    campaign_item = models.ForeignKey("CampaignItem", on_delete=models.CASCADE, related_name="+")
    positive = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["label", "-positive", "id"]

    def __str__(self) -> str:
        return f"{'+' if self.positive else '-'} {self.label}"



class CampaignItem(models.Model):
    """An item of the campaign's version in the queue. `taken` counts annotations plus live
    claims; the database refuses `taken > capacity`, so overlap k holds even if code is wrong."""

    # Three indexes and no more (primary key, the unique pair, the open queue), besides the gold
    # sample's, which holds only the few sampled rows: each index is written for every row, and
    # a campaign over a million items is written in one statement.
    # Nothing looks queue rows up by item alone except deleting a version that a campaign
    # protects anyway, so the item's foreign key has no index of its own.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items", db_index=False)
    item = models.ForeignKey("datasets.Item", on_delete=models.PROTECT, related_name="+", db_index=False)
    position = models.PositiveIntegerField()
    capacity = models.PositiveSmallIntegerField()
    taken = models.PositiveSmallIntegerField(default=0)
    annotation_count = models.PositiveSmallIntegerField(default=0)
    uncertainty = models.FloatField(null=True, blank=True)
    gold = models.JSONField(null=True, blank=True)
    gold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    gold_at = models.DateTimeField(null=True, blank=True)
    gold_note = models.CharField(max_length=300, blank=True)
    gold_sample = models.ForeignKey(
        "GoldSample", on_delete=models.SET_NULL, null=True, blank=True, related_name="items", db_index=False,
        help_text="The draw that put the item in the campaign's gold sample, if one did",
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "item"], name="campaign_item_unique"),
            models.CheckConstraint(condition=Q(taken__lte=F("capacity")), name="campaign_item_within_capacity"),
            models.CheckConstraint(condition=Q(annotation_count__lte=F("taken")), name="campaign_item_counts"),
        ]
        indexes = [
            # The claim query walks the open part of the queue in order.
            models.Index(
                fields=["campaign", "position"], condition=Q(taken__lt=F("capacity")), name="campaign_item_open"
            ),
            # Partial: only the few sampled rows are in it, so writing the queue never touches it.
            models.Index(
                fields=["gold_sample"], condition=Q(gold_sample__isnull=False), name="campaign_item_gold_sample"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.position}"



class GoldSample(models.Model):
    """One draw of the campaign's gold sample: items picked at random (seeded) among those that at
    least two annotators labelled, for the lead to adjudicate whether the annotators agreed or
    not. The human baseline is measured on them (selectors.human_baseline), an unbiased sample,
    where the adjudicated disagreements alone are the hard items by construction. A later draw
    adds items not drawn before; no item ever leaves the sample (nobody can redraw until the
    number looks better, and every draw stays on the record)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="gold_samples")
    seed = models.PositiveIntegerField()
    size = models.PositiveIntegerField(help_text="Items asked for")
    drawn = models.PositiveIntegerField(help_text="Items drawn: fewer than asked when fewer were eligible")
    population = models.PositiveIntegerField(
        help_text="Items eligible then: labelled by two annotators or more and not drawn before"
    )
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    drawn_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["drawn_at", "id"]

    def __str__(self) -> str:
        return f"gold sample of {self.campaign_id}: {self.drawn} of {self.population} (seed {self.seed})"



class Claim(models.Model):
    """An item handed to an annotator and not yet submitted or skipped; it expires."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="claims")
    campaign_item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="claims")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "annotator"], name="claim_one_per_annotator"),
            models.UniqueConstraint(fields=["campaign_item", "annotator"], name="claim_unique_item_annotator"),
        ]
        indexes = [models.Index(fields=["campaign", "expires_at"], name="claim_expiry")]

    def __str__(self) -> str:
        return f"claim of {self.campaign_item_id} by {self.annotator_id}"



class Annotation(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="annotations")
    campaign_item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    value = models.JSONField()
    tool = models.CharField(max_length=12, choices=Tool.choices, default=Tool.PLATFORM)
    seconds_spent = models.FloatField(default=0)
    guideline_version = models.ForeignKey(
        GuidelineVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="annotations"
    )
    revision = models.PositiveIntegerField(default=1, help_text="Bumped by every edit; a stale edit is refused")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign_item", "annotator"], name="annotation_one_per_annotator"),
        ]
        indexes = [models.Index(fields=["campaign", "annotator"], name="annotation_by_annotator")]

    def __str__(self) -> str:
        return f"annotation of {self.campaign_item_id} by {self.annotator_id}"



class Skip(models.Model):
    campaign_item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign_item", "annotator"], name="skip_unique")]

    def __str__(self) -> str:
        return f"skip of {self.campaign_item_id} by {self.annotator_id}"



class AgreementReport(models.Model):
    """The result of an agreement job: the statistics as computed over the annotations then."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="agreement_reports")
    job = models.OneToOneField("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    annotation_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"agreement of {self.campaign_id} at {self.created_at:%Y-%m-%d %H:%M}"



class LabelRelease(models.Model):
    """A campaign's labels written as a dataset version: the label version training runs pin."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="releases")
    version = models.ForeignKey(
        "datasets.DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    job = models.OneToOneField("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    guideline_version = models.ForeignKey(GuidelineVersion, on_delete=models.SET_NULL, null=True, related_name="+")
    summary = models.JSONField(default=dict, help_text="How each label was decided; annotations per annotator")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"labels of {self.campaign_id} → version {self.version_id}"


class LabelStudioTask(models.Model):
    """The Label Studio task a campaign item was pushed as (by the sync job), so that each item is
    pushed once and annotations pulled back find their item by task id even if the task's data
    was edited in Label Studio. The campaign's LS project is `Campaign.labelstudio_project_id`."""

    campaign_item = models.OneToOneField(
        CampaignItem, on_delete=models.CASCADE, primary_key=True, related_name="labelstudio_task"
    )
    task_id = models.PositiveBigIntegerField()
    pushed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.campaign_item_id} → Label Studio task {self.task_id}"
