"""The literature survey's REST API: /api/projects/<slug>/literature/. Readers of the project
read it; leads and engineers write it (403 for other roles, 404 for a project you cannot see)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from prakriya.rest import parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin
from projects.literature import selectors, services
from projects.models import Feasibility, LiteratureEntry
from projects.serializers import MarkdownField, StrictCharField, StrictSerializer

WRITERS = "(lead, engineer)"


class LiteratureEntrySerializer(serializers.ModelSerializer):
    feasibility = serializers.ChoiceField(choices=Feasibility.choices)
    feasibility_label = serializers.CharField(source="get_feasibility_display", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LiteratureEntry
        fields = (
            "id", *services.ENTRY_FIELDS, "feasibility_label", "position", "created_by", "created_at", "updated_at",
        )
        read_only_fields = fields


class LiteratureEntryWriteSerializer(StrictSerializer):
    title = StrictCharField(max_length=300)
    authors = StrictCharField(max_length=500, allow_blank=True, required=False)
    year = serializers.IntegerField(allow_null=True, required=False, help_text="Publication year")
    link = serializers.URLField(max_length=500, allow_blank=True, required=False, help_text="http or https")
    approach = StrictCharField(max_length=services.APPROACH_MAX_CHARS, allow_blank=True, required=False)
    reported_result = StrictCharField(max_length=300, allow_blank=True, required=False)
    benchmark = StrictCharField(max_length=200, allow_blank=True, required=False)
    compute_needed = StrictCharField(max_length=300, allow_blank=True, required=False)
    feasibility = serializers.ChoiceField(
        choices=Feasibility.choices, required=False, help_text="1 low, 2 medium, 3 high"
    )
    notes = MarkdownField(required=False)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The project's literature survey entries"),
    retrieve=extend_schema(summary="One literature survey entry"),
    create=extend_schema(
        summary=f"Add a literature survey entry {WRITERS}",
        request=LiteratureEntryWriteSerializer, responses={201: LiteratureEntrySerializer},
    ),
    update=extend_schema(
        summary=f"Replace a literature survey entry {WRITERS}",
        request=LiteratureEntryWriteSerializer, responses=LiteratureEntrySerializer,
    ),
    partial_update=extend_schema(
        summary=f"Change a literature survey entry {WRITERS}",
        request=LiteratureEntryWriteSerializer, responses=LiteratureEntrySerializer,
    ),
    destroy=extend_schema(summary=f"Remove a literature survey entry {WRITERS}", request=None, responses={204: None}),
)
class LiteratureEntryViewSet(ProjectScopedMixin, viewsets.ModelViewSet):
    serializer_class = LiteratureEntrySerializer

    def get_queryset(self) -> QuerySet[LiteratureEntry]:
        if self.project is None:
            return LiteratureEntry.objects.none()
        return selectors.literature_list(user=self.request.user, project=self.project)

    def _authorise_write(self, request: Request) -> None:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_DELIVERABLE, what="edit the literature survey")

    def _respond(self, entry: LiteratureEntry, answer: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(entry).data, status=answer)

    def create(self, request: Request, project_slug: str) -> Response:
        self._authorise_write(request)
        fields: dict[str, Any] = parse(LiteratureEntryWriteSerializer, request)
        entry = services.literature_entry_create(project=self.project, actor=request.user, **fields)
        return self._respond(entry, status.HTTP_201_CREATED)

    def update(self, request: Request, project_slug: str, pk: str, partial: bool = False) -> Response:
        self._authorise_write(request)
        entry = self.get_object()
        fields = parse(LiteratureEntryWriteSerializer, request, partial=partial)
        return self._respond(services.literature_entry_update(entry=entry, actor=request.user, **fields))

    def partial_update(self, request: Request, project_slug: str, pk: str) -> Response:
        return self.update(request, project_slug, pk, partial=True)

    def destroy(self, request: Request, project_slug: str, pk: str) -> Response:
        self._authorise_write(request)
        services.literature_entry_delete(entry=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
