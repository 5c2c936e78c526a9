"""The loop back to labelling: a sample of a deployment's logged production inputs becomes a new
version of the deployment's production-inputs dataset, and a labelling campaign over it.

One action, in two steps because versions are written by a job (DVC commits take their time):
`loopback_campaign_create` samples the predictions, turns their stored inputs back into files
(a PNG per image, in the export's image mode and size; a JSON line per text), and starts the
version's write with the datasets app's own upload service; when that job succeeds, the datasets
app calls `loopback_version_written` (a datasets.hooks version listener) inside the transaction
that marks it succeeded, which makes the campaign over the new version and puts the loop back
on the project's timeline, exactly once. Until then the loop back shows as waiting, and a failed
write shows as failed with its job.

Only inputs the prediction log stored can be sent: under the "hash" and "drop" privacy settings
there is nothing to label, and the request is refused. Tabular inputs are refused too: the
platform's campaigns label images and texts only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from datasets import services as dataset_services
from datasets.annotation.models import QueueOrder, TaskType
from datasets.annotation.services import campaign_create
from datasets.annotation.services.campaigns import MAX_LABELS
from datasets.models import Dataset, DatasetVersion
from deployments.drift import stored
from deployments.loopback import selectors
from deployments.models import Deployment, Loopback, LoopbackStrategy, Prediction
from prakriya.jobs.models import Job
from projects import policy
from projects.models import Membership, PredictionInputs, Role
from projects.services import timeline_record

ACTION = policy.MANAGE_DEPLOYMENTS


def _inputs_stored_check(deployment: Deployment) -> None:
    setting = deployment.project.prediction_inputs
    if setting != PredictionInputs.STORE:
        kept = "only a SHA-256 of each input" if setting == PredictionInputs.HASH else "nothing of the inputs"
        raise ValidationError(
            f"This project's prediction log keeps {kept} (privacy setting “{setting}”), so there are no production "
            "inputs to send to labelling. A lead can choose to store inputs in the project's settings; predictions "
            "made after that can be sent."
        )


def _schema_check(deployment: Deployment) -> dict:
    schema = deployment.stable.input_schema or {}
    kind = schema.get("kind")
    if kind == "tabular":
        raise ValidationError("Tabular inputs cannot be sent to labelling: campaigns label images and texts only.")
    if kind not in ("image", "text"):
        raise ValidationError("The deployment's model names no input kind to turn its inputs back into items.")
    if kind == "image" and stored.image_shape(schema) is None:
        raise ValidationError("The deployment's model states no image size to turn its inputs back into images.")
    classes = [str(c) for c in schema.get("classes") or []]
    if not classes:
        raise ValidationError("The deployment's model names no classes to label with.")
    if len(classes) > MAX_LABELS:
        raise ValidationError(f"The model has {len(classes)} classes; a campaign takes at most {MAX_LABELS} labels.")
    return schema


def _sample(deployment: Deployment, strategy: str, size: int) -> tuple[list[Prediction], str]:
    if strategy == LoopbackStrategy.LOWEST_CONFIDENCE:
        return selectors.lowest_confidence(deployment=deployment, size=size), "lowest confidence first"
    try:
        sample, feature = selectors.drifted_slice(deployment=deployment, size=size)
    except selectors.NoDriftedSlice as exc:
        raise ValidationError(str(exc)) from None
    return sample, f"the outermost training bins of {feature}, the farthest first"


def _dataset_for(deployment: Deployment, actor: AbstractBaseUser, kind: str) -> Dataset:
    """The dataset the deployment's production inputs go to: the one its earlier loop backs used,
    else a new one."""
    earlier = (
        Loopback.objects.filter(deployment=deployment, dataset__isnull=False, dataset__kind=kind)
        .select_related("dataset").order_by("-created_at").first()
    )
    if earlier is not None:
        return earlier.dataset
    project = deployment.project
    base = slugify(f"{deployment.slug}-production")[:52] or "production"
    taken = set(project.datasets.filter(slug__startswith=base).values_list("slug", flat=True))
    slug = base if base not in taken else next(f"{base}-{n}" for n in range(2, 10_000) if f"{base}-{n}" not in taken)
    return dataset_services.dataset_create(
        project=project, actor=actor, slug=slug, name=f"Production inputs of {deployment.name}"[:120], kind=kind,
        description=f"Inputs the deployment {deployment.name} answered, sent back to labelling from its prediction log.",
    )


def _write_upload(schema: dict, sample: list[Prediction], folder: Path) -> tuple[Path, str, list[int]]:
    """The sample as an upload the datasets app ingests: a ZIP of PNGs at its root (unlabelled),
    named by rank so that the version keeps the sample's order, or JSON lines of texts. Inputs
    that cannot be read back are left out; returns the file, its name and the ids it holds."""
    kept: list[int] = []
    if schema["kind"] == "image":
        path = folder / "production-inputs.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for prediction in sample:
                row = stored.prepared_row(schema, prediction.input)
                if row is None:
                    continue
                kept.append(prediction.pk)
                archive.writestr(f"{len(kept):05d}-prediction-{prediction.pk}.png", stored.image_png(schema, row))
        return path, path.name, kept
    path = folder / "production-inputs.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for prediction in sample:
            text = stored.prepared_row(schema, prediction.input)
            if not isinstance(text, str) or not text.strip():
                continue
            kept.append(prediction.pk)
            out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return path, path.name, kept


@transaction.atomic
def loopback_campaign_create(
    *,
    deployment: Deployment,
    actor: AbstractBaseUser,
    strategy: str,
    size: int,
    annotators: Iterable[AbstractBaseUser] | None = None,
) -> Loopback:
    """Sends up to `size` logged production inputs of the deployment to labelling: a new version
    of its production-inputs dataset (written by a job) and, once written, a campaign over it
    whose queue follows the sample's order, labelled with the model's classes, assigned to
    `annotators` (default: the project's annotators)."""
    project = deployment.project
    policy.require(user=actor, project=project, action=ACTION, what="send production inputs to labelling")
    policy.require(user=actor, project=project, action=policy.MANAGE_CAMPAIGNS, what="create campaigns")
    if strategy not in LoopbackStrategy.values:
        raise ValidationError(f"Unknown strategy {strategy!r}; choose one of {', '.join(LoopbackStrategy.values)}.")
    limit = settings.PRAKRIYA_LOOPBACK_MAX_ITEMS
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= limit:
        raise ValidationError(f"Send between 1 and {limit} inputs at a time.")
    _inputs_stored_check(deployment)
    schema = _schema_check(deployment)
    sample, how = _sample(deployment, strategy, size)
    if not sample:
        raise ValidationError("No logged prediction of this deployment has a stored input left to send to labelling.")
    folder = Path(tempfile.mkdtemp(prefix="prakriya-loopback-"))
    try:
        path, name, kept = _write_upload(schema, sample, folder)
        if not kept:
            raise ValidationError("None of the sampled predictions' stored inputs could be read back as an item.")
        dataset = _dataset_for(deployment, actor, schema["kind"])
        job = dataset_services.version_start_from_upload(
            dataset=dataset, actor=actor, path=path, original_name=name,
            message=f"{len(kept)} production inputs of deployment {deployment.name}, {how}",
            # Each loop back labels its own version in its own campaign, even when the sample
            # repeats an earlier one: the campaign is made when this job writes the version.
            allow_identical=True,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Loopback.objects.create(
        deployment=deployment, strategy=strategy, predictions=kept, dataset=dataset, job=job, created_by=actor,
        annotator_ids=[u.pk for u in annotators] if annotators is not None else None,
    )


def _annotators(loopback: Loopback) -> list[AbstractBaseUser]:
    from django.contrib.auth import get_user_model

    ids = loopback.annotator_ids
    if ids is None:
        ids = list(Membership.objects.filter(project=loopback.deployment.project, role=Role.ANNOTATOR)
                   .values_list("user_id", flat=True))
    return list(get_user_model().objects.filter(pk__in=ids).order_by("pk"))


def _campaign_slug(loopback: Loopback) -> str:
    return slugify(f"{loopback.deployment.slug}"[:40] + f"-loop-back-{loopback.pk}")[:60]


def loopback_version_written(*, version: DatasetVersion, job: Job) -> None:
    """The datasets app's version listener: when the version a loop back asked for is written,
    its campaign is made and the loop back goes on the timeline. Runs in the transaction that
    marks the job succeeded; a campaign that cannot be made (the person who asked lost their
    role meanwhile) leaves the version written and says why on the loop back."""
    loopback = (
        Loopback.objects.select_for_update(of=("self",))
        .select_related("deployment__project", "deployment__stable", "created_by")
        .filter(job=job).first()
    )
    if loopback is None or loopback.campaign_id is not None:
        return
    loopback.version = version
    deployment = loopback.deployment
    classes = [str(c) for c in (deployment.stable.input_schema or {}).get("classes") or []]
    try:
        with transaction.atomic():
            if loopback.created_by is None:
                raise ValidationError("the person who asked for it is gone")
            campaign = campaign_create(
                version=version, actor=loopback.created_by,
                name=f"{deployment.name}: production inputs, loop back {loopback.pk}"[:120],
                slug=_campaign_slug(loopback), task_type=TaskType.SINGLE,
                labels=[{"name": c} for c in classes], order=QueueOrder.SEQUENTIAL,
                annotators=_annotators(loopback),
                introduction=f"Inputs the deployment {deployment.name} answered in production "
                f"({loopback.get_strategy_display().lower()}). Label what each one is, not what the model said.",
            )
    except (ValidationError, PermissionDenied) as exc:
        message = " ".join(getattr(exc, "messages", None) or [str(exc)])
        loopback.failure = f"The version was written but no campaign could be made: {message}"[:500]
        loopback.save(update_fields=["version", "failure"])
        return
    loopback.campaign = campaign
    loopback.save(update_fields=["version", "campaign"])
    timeline_record(
        project=deployment.project, actor=loopback.created_by, verb="loopback_created",
        text=f"{version.dataset.name} v{version.number}: {len(loopback.predictions)} production inputs of deployment "
        f"{deployment.name} ({loopback.get_strategy_display().lower()}), to label in {campaign.name}",
        data={"deployment": deployment.slug, "dataset": version.dataset.slug, "version": version.number,
              "campaign": campaign.slug, "loopback": loopback.pk},
    )
