"""The REST API for datasets, under /api/projects/{project_slug}/datasets/.

Same shape and rules as projects/api.py: the project is resolved through the visibility selector
(404), then the dataset and version (404), the action is authorised by role (403) before the body
is parsed (400), one service is called, the result serialized. Items are read only through
datasets.selectors, whose VisibleItem withholds sealed labels: nothing here reads `Item.label`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from datasets import selectors, services
from datasets.ingest.limits import Limits, human_bytes
from datasets.item_files import item_file_response
from datasets.models import DataDocument, Dataset, DatasetVersion, Item, Split, SplitAssignment, VersionState
from datasets.serializers import (
    MAX_VERSION_NUMBER,
    DataDocumentSerializer,
    DataDocumentWriteSerializer,
    DatasetCreateSerializer,
    DatasetSerializer,
    DeriveSerializer,
    DiffSerializer,
    IdenticalVersionSerializer,
    ImportSerializer,
    ItemSerializer,
    ProfileSerializer,
    SplitCreateSerializer,
    SplitSerializer,
    UploadSerializer,
    VersionDetailSerializer,
    VersionSerializer,
)
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import CappedFormParser, CappedJSONParser, PayloadTooLarge, job_accepted, parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin
from projects.serializers import SLUG_TAKEN

# Dataset slugs as the model accepts them; version numbers are digits; item keys any path segment.
DATASET_SLUG_PATTERN = r"[-a-zA-Z0-9_]+"
VERSION_NUMBER_PATTERN = r"[0-9]+"
ITEM_KEY_PATTERN = r"[^/]+"

DATASET_SLUG_PARAMETER = OpenApiParameter(
    "dataset_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The dataset's slug"
)
VERSION_NUMBER_PARAMETER = OpenApiParameter(
    "version_number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version's number"
)
NUMBER_PARAMETER = OpenApiParameter(
    "number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version's number"
)
KEY_PARAMETER = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The item's key")
OTHER_PARAMETER = OpenApiParameter(
    "other", OpenApiTypes.INT, OpenApiParameter.PATH, description="The number of the version compared to"
)

_UPLOAD_PARSERS = [MultiPartParser, CappedJSONParser, CappedFormParser]


def _identical_response(request: Request, exc: services.VersionIdentical) -> Response:
    """409: the upload is a version the dataset already has; the answer names it and where to read it."""
    version = exc.version
    project_slug, dataset_slug = version.dataset.project.slug, version.dataset.slug
    return Response(
        {
            "detail": exc.message,
            "version": version.number,
            "url": reverse(
                "api:dataset-version-detail", request=request,
                kwargs={"project_slug": project_slug, "dataset_slug": dataset_slug, "number": version.number},
            ),
            "html_url": request.build_absolute_uri(
                reverse("datasets:version", args=[project_slug, dataset_slug, version.number])
            ),
        },
        status=status.HTTP_409_CONFLICT,
    )


def _number(value: str) -> int:
    """A version number from the URL: digits (the route ensures it) that fit the column."""
    number = int(value)
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise Http404("No such version")
    return number



class _SavedUpload:
    """The uploaded file as a path on disk, capped in size; removed afterwards (the services
    stage what they keep into their own folder)."""

    def __init__(self, uploaded) -> None:
        self.uploaded = uploaded
        self.tmpdir: Path | None = None

    def __enter__(self) -> Path:
        limit = Limits.from_settings().upload_max_bytes
        if self.uploaded.size is not None and self.uploaded.size > limit:
            raise PayloadTooLarge(f"The file is larger than the upload limit of {human_bytes(limit)}.")
        if hasattr(self.uploaded, "temporary_file_path"):
            return Path(self.uploaded.temporary_file_path())
        self.tmpdir = Path(tempfile.mkdtemp(prefix="prakriya-api-upload-"))
        path = self.tmpdir / "upload"
        with path.open("wb") as out:
            for chunk in self.uploaded.chunks():
                out.write(chunk)
        return path

    def __exit__(self, *exc: object) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


class DatasetScopedMixin(ProjectScopedMixin):
    """For routes under /projects/{project_slug}/datasets/{dataset_slug}/: the dataset is resolved
    right after the project; one the project does not have is a 404."""

    dataset: Dataset | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.dataset = selectors.dataset_get(project=self.project, slug=kwargs["dataset_slug"])


class VersionScopedMixin(DatasetScopedMixin):
    version: DatasetVersion | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.version = selectors.version_get(dataset=self.dataset, number=_number(kwargs["version_number"]))


# --- Datasets ---------------------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The project's datasets"),
    retrieve=extend_schema(summary="One dataset", parameters=[DATASET_SLUG_PARAMETER]),
)
class DatasetViewSet(
    ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    lookup_field = "slug"
    lookup_url_kwarg = "dataset_slug"
    lookup_value_regex = DATASET_SLUG_PATTERN

    def get_queryset(self) -> QuerySet[Dataset]:
        if self.project is None:
            return Dataset.objects.none()
        return selectors.dataset_list(project=self.project).select_related("created_by")

    def get_serializer_class(self):
        # The browsable API builds its forms from this: the document's own serializer there.
        return DataDocumentSerializer if self.action == "document" else DatasetSerializer

    def get_object(self) -> Dataset:
        return selectors.dataset_get(project=self.project, slug=self.kwargs["dataset_slug"])

    @extend_schema(
        summary="Add a dataset (lead, engineer)",
        request=DatasetCreateSerializer,
        responses={201: DatasetSerializer},
    )
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_DELIVERABLE, what="add datasets")
        data = parse(DatasetCreateSerializer, request)
        try:
            dataset = services.dataset_create(project=self.project, actor=request.user, **data)
        except IntegrityError as exc:
            raise exceptions.ValidationError({"slug": [SLUG_TAKEN]}) from exc
        return Response(
            DatasetSerializer(dataset, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def _document_response(self, document: DataDocument, *, created: bool = False) -> Response:
        version = document.version
        profile = selectors.profile_current(version=version)
        statistics = {
            "item_count": version.item_count,
            "labelled_count": version.labelled_count,
            "class_balance": selectors.class_balance(version=version),
            "warnings": profile.warnings if profile else [],
            "profiled": profile is not None,
        }
        data = DataDocumentSerializer(document, context={"statistics": statistics}).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        methods=["GET"],
        summary="The dataset's data document, with live statistics of its version",
        parameters=[DATASET_SLUG_PARAMETER],
        responses=DataDocumentSerializer,
    )
    @extend_schema(
        methods=["PUT"],
        summary="Write the data document (lead, engineer); fields left out are emptied",
        parameters=[DATASET_SLUG_PARAMETER],
        request=DataDocumentWriteSerializer,
        responses={200: DataDocumentSerializer, 201: DataDocumentSerializer},
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Change fields of the data document (lead, engineer)",
        parameters=[DATASET_SLUG_PARAMETER],
        request=DataDocumentWriteSerializer,
        responses=DataDocumentSerializer,
    )
    @action(detail=True, methods=["get", "put", "patch"])
    def document(self, request: Request, project_slug: str, dataset_slug: str) -> Response:
        dataset = self.get_object()
        existing = (
            DataDocument.objects.filter(dataset=dataset).select_related("version", "updated_by").first()
        )
        if request.method == "GET":
            if existing is None:
                raise Http404("No data document yet")
            return self._document_response(existing)
        policy.require(user=request.user, project=self.project, action=policy.EDIT_DELIVERABLE, what="edit the data document")
        partial = request.method == "PATCH"
        if partial and existing is None:
            raise exceptions.ValidationError(
                {"detail": ["There is no data document yet; PUT the whole document."]}
            )
        fields = parse(DataDocumentWriteSerializer, request, partial=partial)
        if partial:
            number = fields.pop("version", existing.version.number)
        else:
            number = fields.pop("version")
            for name in services.DOCUMENT_FIELDS:
                fields.setdefault(name, "")
        version = dataset.versions.filter(number=number).first()
        if version is None:
            raise exceptions.ValidationError({"version": [f"This dataset has no version {number}."]})
        document = services.data_document_save(dataset=dataset, actor=request.user, version=version, **fields)
        return self._document_response(document, created=existing is None)


# --- Versions ---------------------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DATASET_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The dataset's versions, newest first"),
    retrieve=extend_schema(
        summary="One version, with how to reproduce its bytes with git and dvc", parameters=[NUMBER_PARAMETER]
    ),
)
class VersionViewSet(
    DatasetScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    lookup_field = "number"
    lookup_value_regex = VERSION_NUMBER_PATTERN
    rate_limits = {"upload": "uploads", "import_bundled": "uploads", "derive": "uploads", "profile": "profiles"}

    def get_queryset(self) -> QuerySet[DatasetVersion]:
        if self.dataset is None:
            return DatasetVersion.objects.none()
        return selectors.version_list(dataset=self.dataset).select_related("parent", "created_by")

    def get_serializer_class(self):
        # Per action, so that the browsable API's forms show what each action reads.
        return {
            "list": VersionSerializer,
            "upload": UploadSerializer,
            "import_bundled": ImportSerializer,
            "derive": DeriveSerializer,
            "split": SplitCreateSerializer,
            "profile": ProfileSerializer,
            "diff": DiffSerializer,
        }.get(self.action, VersionDetailSerializer)

    def get_object(self) -> DatasetVersion:
        return selectors.version_get(dataset=self.dataset, number=_number(self.kwargs["number"]))

    def retrieve(self, request: Request, project_slug: str, dataset_slug: str, number: str) -> Response:
        version = self.get_object()
        version.sealed_count = selectors.sealed_count(version=version)
        version.reproduce = selectors.version_reproduce(version=version, user=request.user)
        return Response(VersionDetailSerializer(version).data)

    # -- New versions (jobs) --

    @extend_schema(
        summary="Upload a file as a new version (lead, engineer); the version is written by a job",
        description="An upload identical to a ready version of the dataset (the same items, contents and labels) "
        "writes nothing: 409, naming that version's number and its address.",
        request={"multipart/form-data": UploadSerializer},
        responses={202: JobDetailSerializer, 409: IdenticalVersionSerializer},
    )
    @action(detail=False, methods=["post"], parser_classes=_UPLOAD_PARSERS)
    def upload(self, request: Request, project_slug: str, dataset_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="upload data")
        data = parse(UploadSerializer, request)
        uploaded = data["file"]
        try:
            with _SavedUpload(uploaded) as path:
                job = services.version_start_from_upload(
                    dataset=self.dataset,
                    actor=request.user,
                    path=path,
                    original_name=uploaded.name or "upload",
                    message=data["message"],
                    label_column=data["label_column"],
                    text_column=data["text_column"],
                )
        except services.VersionIdentical as exc:
            return _identical_response(request, exc)
        return job_accepted(request, job)

    @extend_schema(
        summary="Import one of scikit-learn's bundled datasets as a new version (lead, engineer)",
        request=ImportSerializer,
        responses={202: JobDetailSerializer},
    )
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_bundled(self, request: Request, project_slug: str, dataset_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="import data")
        data = parse(ImportSerializer, request)
        job = services.version_start_from_sklearn(dataset=self.dataset, actor=request.user, name=data["name"])
        return job_accepted(request, job)

    @extend_schema(
        summary="A new version from this one: items removed, relabelled, or added from a file (lead, engineer)",
        parameters=[NUMBER_PARAMETER],
        request={"application/json": DeriveSerializer, "multipart/form-data": DeriveSerializer},
        responses={202: JobDetailSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=_UPLOAD_PARSERS)
    def derive(self, request: Request, project_slug: str, dataset_slug: str, number: str) -> Response:
        version = self.get_object()
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="create versions")
        data = parse(DeriveSerializer, request)
        uploaded = data.get("file")
        common = {
            "version": version,
            "actor": request.user,
            "remove_keys": data["remove_keys"],
            "relabel": data["relabel"],
            "respan": data["respan"],
            "message": data["message"],
        }
        if uploaded is None:
            job = services.version_start_derived(**common)
        else:
            with _SavedUpload(uploaded) as path:
                job = services.version_start_derived(
                    **common, add_path=path, add_name=uploaded.name or "upload"
                )
        return job_accepted(request, job)

    # -- Profile --

    @extend_schema(
        methods=["GET"],
        summary="The version's data-understanding report (sealed items left out)",
        parameters=[NUMBER_PARAMETER],
        responses=ProfileSerializer,
    )
    @extend_schema(
        methods=["POST"],
        summary="Profile the version again (lead, engineer)",
        parameters=[NUMBER_PARAMETER],
        request=None,
        responses={202: JobDetailSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def profile(self, request: Request, project_slug: str, dataset_slug: str, number: str) -> Response:
        version = self.get_object()
        if request.method == "GET":
            profile = selectors.profile_current(version=version)
            if profile is None:
                raise Http404("No profile yet")
            return Response(ProfileSerializer(profile).data)
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="launch jobs")
        if version.state != VersionState.READY:
            raise ValidationError("Only a ready version can be profiled.")
        return job_accepted(request, services.profile_recompute(version=version, actor=request.user))

    # -- Split --

    @extend_schema(
        methods=["GET"],
        summary="The version's split: parameters and counts",
        parameters=[NUMBER_PARAMETER],
        responses=SplitSerializer,
    )
    @extend_schema(
        methods=["POST"],
        summary="Split the version; the test part is sealed (lead, engineer)",
        parameters=[NUMBER_PARAMETER],
        request=SplitCreateSerializer,
        responses={201: SplitSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def split(self, request: Request, project_slug: str, dataset_slug: str, number: str) -> Response:
        version = self.get_object()
        if request.method == "GET":
            split = Split.objects.filter(version=version).select_related("created_by").first()
            if split is None:
                raise Http404("This version is not split")
            return Response(SplitSerializer(split).data)
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="split datasets")
        data = parse(SplitCreateSerializer, request)
        split = services.split_create(version=version, actor=request.user, **data)
        return Response(SplitSerializer(split).data, status=status.HTTP_201_CREATED)

    # -- Diff --

    @extend_schema(
        summary="What changed from this version to another: items, labels, class balance",
        parameters=[NUMBER_PARAMETER, OTHER_PARAMETER],
        responses=DiffSerializer,
    )
    @action(
        detail=True, methods=["get"], url_path=rf"diff/(?P<other>{VERSION_NUMBER_PATTERN})", url_name="diff"
    )
    def diff(
        self, request: Request, project_slug: str, dataset_slug: str, number: str, other: str
    ) -> Response:
        old = self.get_object()
        new = selectors.version_get(dataset=self.dataset, number=_number(other))
        data = selectors.version_diff(old=old, new=new)
        return Response(DiffSerializer({"old": old.number, "new": new.number, **data}).data)


# --- Items ------------------------------------------------------------------------------------


class ItemPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DATASET_SLUG_PARAMETER, VERSION_NUMBER_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The version's items, paged; sealed items show no label"),
    retrieve=extend_schema(summary="One item; a sealed item shows no label", parameters=[KEY_PARAMETER]),
)
class ItemViewSet(VersionScopedMixin, viewsets.GenericViewSet):
    serializer_class = ItemSerializer
    pagination_class = ItemPagination
    lookup_field = "key"
    lookup_value_regex = ITEM_KEY_PATTERN

    def get_queryset(self) -> QuerySet[Item]:
        # Only describes the schema; the handlers read through the selectors.
        return Item.objects.none()

    def _context(self, items: list[selectors.VisibleItem]) -> dict[str, Any]:
        parts = dict(
            SplitAssignment.objects.filter(item_id__in=[i.id for i in items]).values_list("item_id", "part")
        )
        return {**self.get_serializer_context(), "parts": parts}

    def list(self, request: Request, project_slug: str, dataset_slug: str, version_number: str) -> Response:
        page = self.paginate_queryset(selectors.VisibleItemPages(self.version, max_page=ItemPagination.max_page_size))
        serializer = ItemSerializer(page, many=True, context=self._context(page))
        return self.get_paginated_response(serializer.data)

    def retrieve(
        self, request: Request, project_slug: str, dataset_slug: str, version_number: str, key: str
    ) -> Response:
        item = selectors.item_get(version=self.version, key=key)
        return Response(ItemSerializer(item, context=self._context([item])).data)

    @extend_schema(
        summary="The item's image file",
        parameters=[KEY_PARAMETER],
        responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The image bytes")},
    )
    @action(detail=True, methods=["get"])
    def content(
        self, request: Request, project_slug: str, dataset_slug: str, version_number: str, key: str
    ) -> HttpResponse:
        return item_file_response(version=self.version, item=selectors.item_get(version=self.version, key=key))
