"""Active labelling: a quick baseline trained on the labels a campaign has so far scores how
unsure it is about each item still waiting for annotators, and the queue is reordered most
uncertain first, so the next annotations are the ones that teach a model the most.

The baseline is deliberately small and fast (it runs on the default queue, between annotation
sessions): text → character n-gram TF-IDF + logistic regression (character n-grams need no
tokenizer, so Devanagari, Tamil or Urdu text works as well as English); image → logistic
regression on the pixels of a 16×16 grey thumbnail. Labels come from selectors.label_set only
(gold, else strict majority), never from the dataset's own labels, so the sealed test labels
are never read. Multi-label campaigns are treated as one class per distinct set of labels.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from datasets.annotation import kinds, selectors
from datasets.annotation.models import Campaign, CampaignItem, TaskType
from datasets.models import Item
from prakriya.jobs.models import Job
from prakriya.jobs.services import job_enqueue
from projects import policy

MIN_CLASSES = 2
MIN_EXAMPLES = 2
IMAGE_SIDE = 16


class Method:
    ENTROPY = "entropy"
    MARGIN = "margin"
    CHOICES = [
        (ENTROPY, "Entropy of the predicted probabilities"),
        (MARGIN, "Margin between the two most likely labels"),
    ]


Reporter = Callable[[float, str], None]
ImageReader = Callable[[Item], bytes]


@dataclass
class Plan:
    """What the baseline learns from and what it scores."""

    train: list[tuple[int, Item, str]]  # campaign item id, item, class
    pool: list[tuple[int, Item]]  # items still waiting for annotations
    class_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcome:
    scores: dict[int, float]
    trained_on: int
    classes: list[str]
    method: str


def _class_of(task_type: str, value) -> str:
    if task_type == TaskType.MULTI:
        return "|".join(sorted(value))
    return str(value)


def plan(campaign: Campaign) -> Plan:
    """The training rows and the pool, or a ValidationError saying what is missing."""
    if campaign.task_type == TaskType.SPAN:
        raise ValidationError(
            "Active labelling ranks items by a classifier's uncertainty; a span campaign has no class per item."
        )
    decided = {
        item_id: entry["value"] for item_id, entry in selectors.label_set(campaign=campaign).items()
        if entry["source"] != "undecided"
    }
    rows = CampaignItem.objects.filter(campaign=campaign).select_related("item").order_by("position")
    train, pool = [], []
    for row in rows:
        if row.pk in decided:
            train.append((row.pk, row.item, _class_of(campaign.task_type, decided[row.pk])))
        if row.annotation_count < row.capacity:
            pool.append((row.pk, row.item))
    counts = Counter(cls for _, _, cls in train)
    usable = sorted(cls for cls, n in counts.items() if n >= MIN_EXAMPLES)
    if len(usable) < MIN_CLASSES:
        have = ", ".join(f"{cls or '(no label)'}: {n}" for cls, n in counts.most_common()) or "none yet"
        raise ValidationError(
            f"Active labelling needs at least {MIN_CLASSES} labels with {MIN_EXAMPLES} or more decided examples "
            f"each (a gold label or a strict majority); so far: {have}."
        )
    if not pool:
        raise ValidationError("Every item already has all its annotations: there is nothing left to order.")
    return Plan(train=train, pool=pool, class_counts=dict(counts))


def uncertainty(proba: np.ndarray, method: str) -> np.ndarray:
    """Per row of class probabilities, how unsure the model is, in [0, 1]; higher is less sure."""
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    if proba.shape[1] < 2:
        return np.zeros(proba.shape[0])
    if method == Method.MARGIN:
        top = np.sort(proba, axis=1)[:, ::-1]
        return 1.0 - (top[:, 0] - top[:, 1])
    if method == Method.ENTROPY:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(proba > 0, -proba * np.log(proba), 0.0)
        # Normalised by the entropy of a uniform guess, so scores compare across label counts.
        return terms.sum(axis=1) / math.log(proba.shape[1])
    raise ValidationError(f"Unknown uncertainty measure {method!r}.")


def text_features(train_texts: Sequence[str], pool_texts: Sequence[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    # Fitted on every text (no labels are used): the pool's n-grams get weights too.
    vectorizer.fit(list(train_texts) + list(pool_texts))
    return vectorizer.transform(train_texts), vectorizer.transform(pool_texts)


def image_vector(data: bytes) -> np.ndarray:
    """A 16×16 grey thumbnail as 256 numbers in [0, 1]; an unreadable image is all zeros (it then
    scores as the model's average guess instead of stopping the whole job)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            grey = image.convert("L").resize((IMAGE_SIDE, IMAGE_SIDE))
            return np.asarray(grey, dtype=float).reshape(-1) / 255.0
    except (UnidentifiedImageError, OSError, ValueError):
        return np.zeros(IMAGE_SIDE * IMAGE_SIDE)


def image_features(train_items: Sequence[Item], pool_items: Sequence[Item], read: ImageReader,
                   report: Reporter | None = None):
    total = len(train_items) + len(pool_items)
    vectors = []
    for index, item in enumerate([*train_items, *pool_items]):
        vectors.append(image_vector(read(item)))
        if report and index % 200 == 0:
            report(10 + 50 * index / max(total, 1), f"Reading images: {index} of {total}")
    matrix = np.vstack(vectors) if vectors else np.zeros((0, IMAGE_SIDE * IMAGE_SIDE))
    return matrix[: len(train_items)], matrix[len(train_items):]


def score(campaign: Campaign, *, method: str = Method.ENTROPY, read_image: ImageReader | None = None,
          report: Reporter | None = None) -> Outcome:
    """Trains the baseline and scores the pool. Plain: reads the database, writes nothing."""
    from sklearn.linear_model import LogisticRegression

    if method not in dict(Method.CHOICES):
        raise ValidationError(f"Unknown uncertainty measure {method!r}.")
    report = report or (lambda percent, message: None)
    the_plan = plan(campaign)
    train_items = [item for _, item, _ in the_plan.train]
    pool_items = [item for _, item in the_plan.pool]
    report(5, f"{len(train_items)} labelled items to learn from, {len(pool_items)} to score")
    if campaign.media == "image":
        if read_image is None:
            raise ValueError("an image campaign needs a reader of the items' bytes")
        x_train, x_pool = image_features(train_items, pool_items, read_image, report)
    else:
        x_train, x_pool = text_features([i.text for i in train_items], [i.text for i in pool_items])
    report(65, "Training the baseline")
    model = LogisticRegression(max_iter=1000, random_state=campaign.seed)
    model.fit(x_train, [cls for _, _, cls in the_plan.train])
    report(85, "Scoring the items still to label")
    scores = uncertainty(model.predict_proba(x_pool), method)
    return Outcome(
        scores={pk: float(s) for (pk, _), s in zip(the_plan.pool, scores, strict=True)},
        trained_on=len(train_items), classes=[str(c) for c in model.classes_], method=method,
    )


def active_start(*, campaign: Campaign, actor: AbstractBaseUser, method: str = Method.ENTROPY) -> Job:
    """Starts the active-labelling job. The labels are checked now, so a campaign that cannot
    train a baseline yet is told so at once instead of by a failed job."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS,
                 what="reorder a campaign's queue")
    if method not in dict(Method.CHOICES):
        raise ValidationError(f"Unknown uncertainty measure {method!r}.")
    plan(campaign)
    return job_enqueue(
        kind=kinds.ACTIVE, project=campaign.project, target=campaign, created_by=actor, params={"method": method},
    )

