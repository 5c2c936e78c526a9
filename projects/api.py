"""The REST API for projects and jobs.

Every view follows one shape: resolve what the user may see through a selector (404 otherwise),
authorise the action by role (403), parse the body with a write serializer (400), call one
service, serialize the result. Authorising before parsing means a role that may not write learns
nothing from validation messages.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from prakriya.jobs.models import Job, JobState
from prakriya.jobs.serializers import JobDetailSerializer, JobSerializer
from prakriya.jobs.services import job_cancel
from prakriya.rest import ApiViewMixin, job_accepted, parse
from projects import policy, selectors, services
from projects.models import (
    STAGE_CHOICES,
    Deliverable,
    Membership,
    Project,
    ProjectRevision,
    Target,
    TimelineEvent,
    ValueEstimate,
)
from projects.serializers import (
    ApprovalSerializer,
    DeliverableActionSerializer,
    DeliverableBodySerializer,
    DeliverableSerializer,
    ExportStartSerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    ProjectCreateSerializer,
    ProjectDetailSerializer,
    ProjectListSerializer,
    ProjectRevisionSerializer,
    ProjectUpdateSerializer,
    StrictSerializer,
    TargetSerializer,
    TargetWriteSerializer,
    TimelineEventSerializer,
    ValueEstimateSerializer,
    ValueEstimateWriteSerializer,
)

# Any slug the model accepts routes; a malformed one simply matches no URL (404).
SLUG_URL_PATTERN = r"[-a-zA-Z0-9_]+"
PROJECT_SLUG_PARAMETER = OpenApiParameter(
    "project_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The project's slug"
)



class ProjectScopedMixin(ApiViewMixin):
    """For routes under /projects/{project_slug}/: the project is resolved once, through the
    visibility selector, right after authentication; an invisible project is a 404.

    `project` stays None while the schema is generated, and when a request failed before the
    project was resolved (the browsable API still builds its forms then): querysets are empty."""

    project: Project | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project = selectors.project_get_visible(user=request.user, slug=kwargs["project_slug"])


# --- Projects ---------------------------------------------------------------------------------


class ProjectFilter(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=STAGE_CHOICES, help_text="The project's current stage")
    tag = django_filters.CharFilter(field_name="tags__name", help_text="A tag name")
    q = django_filters.CharFilter(
        method="search", help_text="Words in the title, summary or problem statement"
    )

    class Meta:
        model = Project
        fields = ["stage", "tag", "q"]

    def search(self, queryset: QuerySet[Project], name: str, value: str) -> QuerySet[Project]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value) | Q(summary__icontains=value) | Q(problem_statement__icontains=value)
        )


@extend_schema_view(
    list=extend_schema(summary="Projects you can see: public ones and those you are a member of"),
    retrieve=extend_schema(summary="A project's page"),
)
class ProjectViewSet(ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "slug"
    lookup_value_regex = SLUG_URL_PATTERN
    filterset_class = ProjectFilter

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.project_list_visible(user=self.request.user).prefetch_related("tags")

    def get_serializer_class(self):
        return ProjectListSerializer if self.action == "list" else ProjectDetailSerializer

    def _detail(self, slug: str) -> dict[str, Any]:
        project = selectors.project_get_visible(user=self.request.user, slug=slug)
        return ProjectDetailSerializer(project, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Create a project; you become its lead",
        request=ProjectCreateSerializer, responses={201: ProjectDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        if not policy.can_create_projects(request.user):
            raise exceptions.PermissionDenied(policy.STAFF_ONLY_PROJECTS)
        data = parse(ProjectCreateSerializer, request)
        try:
            project = services.project_create(creator=request.user, unguessable_private_slug=True, **data)
        except IntegrityError as exc:
            # Two requests raced for the same slug; the loser gets the same answer as a late one.
            raise exceptions.ValidationError({"slug": [services.SLUG_UNAVAILABLE]}) from exc
        return Response(self._detail(project.slug), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit the charter (lead, engineer) or the visibility and tags (lead)",
        request=ProjectUpdateSerializer, responses=ProjectDetailSerializer,
    )
    def partial_update(self, request: Request, slug: str) -> Response:
        project = self.get_object()
        # The charter's editors include the lead, who alone may change the settings (services check each half).
        policy.require(user=request.user, project=project, action=policy.EDIT_CHARTER, what="change this project")
        charter = parse(ProjectUpdateSerializer, request, partial=True)
        project_settings = {name: charter.pop(name) for name in ProjectUpdateSerializer.SETTINGS_FIELDS
                            if name in charter}
        summary_of_change = charter.pop("summary_of_change", "")
        # Both halves or neither: an engineer who also sends `visibility` changes nothing.
        with transaction.atomic():
            if charter:
                services.project_update_charter(
                    project=project, actor=request.user, summary_of_change=summary_of_change, **charter
                )
            if project_settings:
                services.project_update_settings(project=project, actor=request.user, **project_settings)
        return Response(self._detail(project.slug))


# --- Memberships ------------------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(list=extend_schema(summary="The project's members"))
class MembershipViewSet(ProjectScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = MembershipSerializer

    def get_queryset(self) -> QuerySet[Membership]:
        if self.project is None:
            return Membership.objects.none()
        return selectors.membership_list(project=self.project)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if self.project is not None:
            context["can_see_emails"] = policy.can(
                user=self.request.user, project=self.project, action=policy.SEE_MEMBER_EMAILS
            )
        return context

    @extend_schema(
        summary="Add a member, or change the role of an existing one (lead only)",
        request=MembershipCreateSerializer, responses={201: MembershipSerializer, 200: MembershipSerializer},
    )
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_PROJECT, what="manage members")
        data = parse(MembershipCreateSerializer, request)
        user = data["username"]
        existed = self.get_queryset().filter(user=user).exists()
        membership = services.membership_set(
            project=self.project, actor=request.user, user=user, role=data["role"]
        )
        answer = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(self.get_serializer(membership).data, status=answer)

    @extend_schema(summary="Change a member's role (lead only)",
                   request=MembershipUpdateSerializer, responses=MembershipSerializer)
    def partial_update(self, request: Request, project_slug: str, pk: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_PROJECT, what="manage members")
        membership = self.get_object()
        data = parse(MembershipUpdateSerializer, request)
        membership = services.membership_set(
            project=self.project, actor=request.user, user=membership.user, role=data["role"]
        )
        return Response(self.get_serializer(membership).data)

    @extend_schema(summary="Remove a member (lead only)", request=None, responses={204: None})
    def destroy(self, request: Request, project_slug: str, pk: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_PROJECT, what="manage members")
        membership = self.get_object()
        services.membership_remove(project=self.project, actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Lift the member's sign-in lock-out (lead; not for staff accounts; once a day per account)",
        request=None, responses={204: None},
    )
    @action(detail=True, methods=["post"])
    def unlock(self, request: Request, project_slug: str, pk: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.UNLOCK_MEMBER_SIGN_IN, what="lift a member's sign-in lock-out")
        membership = self.get_object()
        services.member_lockout_lift(project=self.project, actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Targets and value estimates --------------------------------------------------------------


class _CharterItemViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    """Items of the charter that leads and engineers edit and everyone who sees the project reads."""

    model: type[Model]
    write_serializer_class: type[StrictSerializer]
    what: str

    def get_queryset(self) -> QuerySet:
        if self.project is None:
            return self.model.objects.none()
        return self.model.objects.filter(project=self.project)

    def save_item(self, item: Model | None, fields: dict[str, Any]) -> Model:
        raise NotImplementedError

    def delete_item(self, item: Model) -> None:
        raise NotImplementedError

    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_CHARTER, what=f"edit {self.what}")
        item = self.save_item(None, parse(self.write_serializer_class, request))
        return Response(self.get_serializer(item).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, project_slug: str, pk: str, partial: bool = False) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_CHARTER, what=f"edit {self.what}")
        item = self.get_object()
        item = self.save_item(item, parse(self.write_serializer_class, request, partial=partial))
        return Response(self.get_serializer(item).data)

    def partial_update(self, request: Request, project_slug: str, pk: str) -> Response:
        return self.update(request, project_slug, pk, partial=True)

    def destroy(self, request: Request, project_slug: str, pk: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_CHARTER, what=f"edit {self.what}")
        self.delete_item(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _charter_item_schema(read: type, write: type, noun: str):
    writers = "(lead, engineer)"
    return extend_schema_view(
        list=extend_schema(summary=f"The project's {noun}s"),
        retrieve=extend_schema(summary=f"One {noun}"),
        create=extend_schema(summary=f"Add a {noun} {writers}", request=write, responses={201: read}),
        update=extend_schema(summary=f"Replace a {noun} {writers}", request=write, responses=read),
        partial_update=extend_schema(summary=f"Change a {noun} {writers}", request=write, responses=read),
        destroy=extend_schema(summary=f"Remove a {noun} {writers}", request=None, responses={204: None}),
    )


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@_charter_item_schema(TargetSerializer, TargetWriteSerializer, "target")
class TargetViewSet(_CharterItemViewSet):
    model = Target
    serializer_class = TargetSerializer
    write_serializer_class = TargetWriteSerializer
    what = "targets"

    def save_item(self, item: Target | None, fields: dict[str, Any]) -> Target:
        return services.target_save(project=self.project, actor=self.request.user, target=item, **fields)

    def delete_item(self, item: Target) -> None:
        services.target_delete(project=self.project, actor=self.request.user, target=item)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@_charter_item_schema(ValueEstimateSerializer, ValueEstimateWriteSerializer, "value estimate")
class ValueEstimateViewSet(_CharterItemViewSet):
    model = ValueEstimate
    serializer_class = ValueEstimateSerializer
    write_serializer_class = ValueEstimateWriteSerializer
    what = "value estimates"

    def save_item(self, item: ValueEstimate | None, fields: dict[str, Any]) -> ValueEstimate:
        return services.value_estimate_save(
            project=self.project, actor=self.request.user, estimate=item, **fields
        )

    def delete_item(self, item: ValueEstimate) -> None:
        services.value_estimate_delete(project=self.project, actor=self.request.user, estimate=item)


# --- Deliverables and their review ------------------------------------------------------------

_ACTION_SCHEMA = {"request": DeliverableActionSerializer, "responses": DeliverableSerializer}


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
class DeliverableViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    serializer_class = DeliverableSerializer
    lookup_field = "kind"
    lookup_value_regex = r"[a-z_]+"
    pagination_class = None  # always the eight stages, in process order

    def get_queryset(self) -> QuerySet[Deliverable]:
        # Only used to describe the schema; the handlers read through the selectors.
        return Deliverable.objects.none()

    def _respond(self, kind: str) -> Response:
        return Response(self.get_serializer(selectors.deliverable_get(project=self.project, kind=kind)).data)

    @extend_schema(summary="The project's deliverables in process order, with their review history")
    def list(self, request: Request, project_slug: str) -> Response:
        return Response(self.get_serializer(selectors.deliverable_list(project=self.project), many=True).data)

    @extend_schema(summary="One deliverable")
    def retrieve(self, request: Request, project_slug: str, kind: str) -> Response:
        return self._respond(kind)

    @extend_schema(summary="Write the deliverable's body (lead, engineer)",
                   request=DeliverableBodySerializer, responses=DeliverableSerializer)
    def partial_update(self, request: Request, project_slug: str, kind: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_DELIVERABLE, what="edit deliverables")
        deliverable = selectors.deliverable_get(project=self.project, kind=kind)
        data = parse(DeliverableBodySerializer, request)
        services.deliverable_save_body(deliverable=deliverable, actor=request.user, body=data["body"])
        return self._respond(kind)

    def _transition(self, request: Request, kind: str, name: str) -> Response:
        what = f"{name.replace('_', ' ')} deliverables"
        # Checked before parsing as well as by the service: a refused role learns nothing of the body's rules.
        action = policy.DELIVERABLE_TRANSITIONS[name].action
        policy.require(user=request.user, project=self.project, action=action, what=what)
        deliverable = selectors.deliverable_get(project=self.project, kind=kind)
        data = parse(DeliverableActionSerializer, request)
        services.deliverable_transition(
            deliverable=deliverable, actor=request.user, action=name, comment=data["comment"]
        )
        return self._respond(kind)

    @extend_schema(summary="Submit for review (lead, engineer)", **_ACTION_SCHEMA)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, project_slug: str, kind: str) -> Response:
        return self._transition(request, kind, "submit")

    @extend_schema(summary="Approve a submitted deliverable (lead)", **_ACTION_SCHEMA)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, project_slug: str, kind: str) -> Response:
        return self._transition(request, kind, "approve")

    @extend_schema(summary="Request changes on a submitted deliverable; a comment is required (lead)",
                   **_ACTION_SCHEMA)
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request: Request, project_slug: str, kind: str) -> Response:
        return self._transition(request, kind, "request_changes")

    @extend_schema(summary="Reopen an approved deliverable; a comment is required (lead)", **_ACTION_SCHEMA)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, project_slug: str, kind: str) -> Response:
        return self._transition(request, kind, "reopen")

    @extend_schema(summary="One approval of the deliverable as it was frozen: narrative, evidence, versions, hash",
                   responses=ApprovalSerializer,
                   parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["get"], url_path=r"approvals/(?P<number>[0-9]{1,9})")
    def approval(self, request: Request, project_slug: str, kind: str, number: str) -> Response:
        deliverable = selectors.deliverable_get(project=self.project, kind=kind)
        return Response(ApprovalSerializer(selectors.snapshot_get(deliverable=deliverable, number=int(number))).data)


# --- Timeline and revisions -------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(list=extend_schema(summary="What happened in the project, newest first"))
class TimelineViewSet(ProjectScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TimelineEventSerializer

    def get_queryset(self) -> QuerySet[TimelineEvent]:
        if self.project is None:
            return TimelineEvent.objects.none()
        return selectors.timeline_list(project=self.project)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="Revisions of the project page, newest first"),
    retrieve=extend_schema(summary="One revision of the project page"),
)
class RevisionViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    serializer_class = ProjectRevisionSerializer
    lookup_field = "number"

    def get_queryset(self) -> QuerySet[ProjectRevision]:
        if self.project is None:
            return ProjectRevision.objects.none()
        return selectors.revision_list(project=self.project)


# --- Jobs -------------------------------------------------------------------------------------


class JobFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__slug", help_text="A project slug")
    state = django_filters.ChoiceFilter(choices=JobState.choices)
    kind = django_filters.CharFilter()

    class Meta:
        model = Job
        fields = ["project", "state", "kind"]


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
class ProjectExportViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    serializer_class = ExportStartSerializer
    rate_limits = {"create": "jobs"}

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.none()  # nothing is listed here; jobs are read at /api/jobs/

    @extend_schema(summary="Start exporting the project to JSON (lead, engineer)",
                   request=ExportStartSerializer, responses={202: JobDetailSerializer})
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="launch jobs")
        data = parse(ExportStartSerializer, request)
        job = services.project_export_start(
            project=self.project, actor=request.user, pause_seconds=data["pause_seconds"]
        )
        return job_accepted(request, job)


@extend_schema_view(
    list=extend_schema(summary="Jobs of the projects you are a member of"),
    retrieve=extend_schema(summary="One job, with its log"),
)
class JobViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    # Jobs are the team's machinery, never public: even reading needs a signed-in member.
    permission_classes = [IsAuthenticated]
    filterset_class = JobFilter

    def get_queryset(self) -> QuerySet[Job]:
        return selectors.job_list_visible(user=self.request.user)

    def get_serializer_class(self):
        return JobSerializer if self.action == "list" else JobDetailSerializer

    @extend_schema(summary="Cancel a job (lead, engineer of its project)", request=None,
                   responses=JobDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        policy.require(user=request.user, project=job.project, action=policy.LAUNCH_JOBS, what="cancel jobs")
        job = job_cancel(job=job)
        return Response(JobDetailSerializer(job).data)
