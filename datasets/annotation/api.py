"""The REST API for labelling campaigns, under /api/projects/{project_slug}/campaigns/.

Same shape and rules as projects/api.py: the project is resolved through the visibility selector
(404), then the campaign through the campaign selector — leads and engineers see every campaign,
an annotator only those they are assigned to, anyone else none (404). The action is then
authorised (403) before the body is parsed (400), one service is called, the result serialized.
A valid request that loses a race or edits a stale revision is a 409 (services.Conflict).

What annotators never see here: other annotators' annotations (whatever the campaign's
blindness: the list shows the caller's own only), the queue, gold labels, the label set and the
adjudication queue (leads and engineers only). No serializer reads `Item.label`.

Claiming, submitting and skipping tasks (`{campaign}/tasks/…`) live in labelling_api.py.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from datasets.annotation import selectors, services
from datasets.annotation.models import Annotation, Campaign, CampaignItem, CampaignState, Tool
from datasets.annotation.serializers import (
    MAX_ID,
    AnnotationCreateSerializer,
    AnnotationEditSerializer,
    AnnotationSerializer,
    CampaignCreateSerializer,
    CampaignItemSerializer,
    CampaignSerializer,
    CampaignUpdateSerializer,
    DisagreementQuerySerializer,
    DisagreementSerializer,
    GoldSampleRequestSerializer,
    GoldSampleSerializer,
    GoldSerializer,
    GuidelinePublishSerializer,
    GuidelineSerializer,
    GuidelineVersionSerializer,
    HumanBaselineSerializer,
    LabelSetRowSerializer,
    ProgressSerializer,
)
from datasets.api import ItemPagination
from prakriya.rest import parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, SLUG_URL_PATTERN, ProjectScopedMixin
from projects.serializers import SLUG_TAKEN

CAMPAIGN_SLUG_PATTERN = SLUG_URL_PATTERN
ID_PATTERN = r"[0-9]+"

CAMPAIGN_SLUG_PARAMETER = OpenApiParameter(
    "campaign_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The campaign's slug"
)

_MANAGERS = "(lead, engineer)"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state; reload and try again."
    default_code = "conflict"



def _id(value: str) -> int:
    """An id from the URL: digits (the route ensures it) that fit the column, else no such row."""
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise Http404("No such object")
    return number


class CampaignApiMixin(ProjectScopedMixin):
    def handle_exception(self, exc):
        if isinstance(exc, services.Conflict):
            exc = ConflictError(str(exc))
        return super().handle_exception(exc)

    def authorise_manager(self, what: str) -> None:
        policy.require(user=self.request.user, project=self.project, action=policy.MANAGE_CAMPAIGNS, what=what)

    def is_manager(self) -> bool:
        return policy.can(user=self.request.user, project=self.project, action=policy.MANAGE_CAMPAIGNS)


class CampaignScopedMixin(CampaignApiMixin):
    """For routes under /campaigns/{campaign_slug}/: the campaign is resolved right after the
    project; one the user may not see is a 404."""

    campaign: Campaign | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.campaign = selectors.campaign_get_visible(
            user=request.user, project=self.project, slug=kwargs["campaign_slug"]
        )


def _with_item_keys(rows: list[dict], campaign: Campaign) -> list[dict]:
    """Rows that name a campaign item, with the item's key added: read for one page only."""
    ids = [row["campaign_item_id"] for row in rows]
    keys = dict(CampaignItem.objects.filter(campaign=campaign, pk__in=ids).values_list("pk", "item__key"))
    return [{**row, "key": keys.get(row["campaign_item_id"], "")} for row in rows]


# --- Campaigns --------------------------------------------------------------------------------


class CampaignFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CampaignState.choices)

    class Meta:
        model = Campaign
        fields = ["state"]


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(
        summary="The campaigns you can see: all of them for the lead and engineers, your assigned ones otherwise"
    ),
    retrieve=extend_schema(summary="One campaign", parameters=[CAMPAIGN_SLUG_PARAMETER]),
)
class CampaignViewSet(CampaignApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CampaignSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "campaign_slug"
    lookup_value_regex = CAMPAIGN_SLUG_PATTERN
    filterset_class = CampaignFilter

    def get_queryset(self) -> QuerySet[Campaign]:
        if self.project is None:
            return Campaign.objects.none()
        return (
            selectors.campaign_list_visible(user=self.request.user, project=self.project)
            .select_related("created_by").prefetch_related("labels", "annotators")
        )

    def get_serializer_class(self):
        # Per action, so that the browsable API's forms show what each action reads.
        return {
            "create": CampaignCreateSerializer,
            "partial_update": CampaignUpdateSerializer,
            "guideline_versions": GuidelinePublishSerializer,
            "gold_sample": GoldSampleRequestSerializer,
        }.get(self.action, CampaignSerializer)

    def get_object(self) -> Campaign:
        campaign = self.get_queryset().filter(slug=self.kwargs["campaign_slug"]).first()
        if campaign is None:
            raise Http404("No such campaign")
        return campaign

    def _detail(self, campaign: Campaign, **kwargs: Any) -> Response:
        # Read again through the queryset: the labels and annotators as they are now.
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, **kwargs)

    @extend_schema(
        summary=f"Start a campaign over a ready dataset version; its queue and guideline v1 are written {_MANAGERS}",
        request=CampaignCreateSerializer, responses={201: CampaignSerializer},
    )
    def create(self, request: Request, project_slug: str) -> Response:
        self.authorise_manager("create campaigns")
        data = parse(CampaignCreateSerializer, request, project=self.project)
        try:
            campaign = services.campaign_create(actor=request.user, **data)
        except IntegrityError as exc:
            # Two requests raced for the same slug; the loser gets the same answer as a late one.
            raise exceptions.ValidationError({"slug": [SLUG_TAKEN]}) from exc
        location = reverse(
            "api:campaign-detail", kwargs={"project_slug": project_slug, "campaign_slug": campaign.slug},
            request=request,
        )
        return self._detail(campaign, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(
        summary=f"Rename, reassign, change blindness or the lock time {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], request=CampaignUpdateSerializer, responses=CampaignSerializer,
    )
    def partial_update(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        self.authorise_manager("change campaigns")
        data = parse(CampaignUpdateSerializer, request)
        services.campaign_update(campaign=campaign, actor=request.user, **data)
        return self._detail(campaign)

    @extend_schema(
        summary=f"Close the campaign: live claims are dropped and no one can label {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], request=None, responses=CampaignSerializer,
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        self.authorise_manager("close campaigns")
        services.campaign_close(campaign=campaign, actor=request.user)
        return self._detail(campaign)

    @extend_schema(
        summary=f"Reopen a closed campaign {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], request=None, responses=CampaignSerializer,
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        self.authorise_manager("reopen campaigns")
        services.campaign_reopen(campaign=campaign, actor=request.user)
        return self._detail(campaign)

    # -- Guideline --

    @extend_schema(
        summary="The current guideline: introduction, label definitions, examples",
        parameters=[CAMPAIGN_SLUG_PARAMETER], responses=GuidelineSerializer,
    )
    @action(detail=True, methods=["get"])
    def guideline(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        guideline = selectors.guideline_current(campaign=self.get_object())
        if guideline is None:
            raise Http404("No guideline yet")
        return Response(GuidelineSerializer(guideline).data)

    @extend_schema(
        methods=["GET"], summary="The guideline's change log, newest first",
        parameters=[CAMPAIGN_SLUG_PARAMETER], responses=GuidelineVersionSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary=f"Publish a new guideline version; what is left out is carried over {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], request=GuidelinePublishSerializer,
        responses={201: GuidelineSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="guideline/versions", url_name="guideline-versions",
            filter_backends=[])
    def guideline_versions(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.guideline_history(campaign=campaign).order_by("-number"))
            return self.get_paginated_response(GuidelineVersionSerializer(page, many=True).data)
        self.authorise_manager("edit the guideline")
        data = parse(GuidelinePublishSerializer, request)
        current = selectors.guideline_current(campaign=campaign)
        definitions = {d.label: d.definition for d in current.definitions.all()} if current else {}
        definitions.update(data.get("definitions", {}))
        introduction = data.get("introduction", current.introduction if current else "")
        try:
            published = services.guideline_publish(
                campaign=campaign, actor=request.user, introduction=introduction, definitions=definitions,
                change_note=data["change_note"], caused_by=data["caused_by"], examples=data.get("examples", []),
            )
        except IntegrityError as exc:
            # Both publishers took the same next number; the loser's edit was based on a stale
            # version anyway.
            raise ConflictError("Another guideline version was published meanwhile; reload and try again.") from exc
        return Response(GuidelineSerializer(published).data, status=status.HTTP_201_CREATED)

    # -- Following the campaign --

    @extend_schema(
        summary="The campaign's progress, and yours; per annotator for the lead and engineers",
        parameters=[CAMPAIGN_SLUG_PARAMETER], responses=ProgressSerializer,
    )
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        progress = selectors.campaign_progress(campaign=campaign, user=request.user)
        annotators = selectors.annotator_progress(campaign=campaign) if self.is_manager() else None
        return Response(ProgressSerializer(ProgressSerializer.build(campaign, progress, annotators)).data)

    @extend_schema(
        summary=f"The adjudication queue: items whose annotators disagree, most disagreement first {_MANAGERS}",
        parameters=[
            CAMPAIGN_SLUG_PARAMETER,
            OpenApiParameter("include_resolved", OpenApiTypes.BOOL, description="Also items with a gold label"),
        ],
        responses=DisagreementSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=ItemPagination)
    def disagreements(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        self.authorise_manager("see the adjudication queue")
        query = DisagreementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.disagreements(campaign=campaign, include_resolved=query.validated_data["include_resolved"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DisagreementSerializer(_with_item_keys(page, campaign), many=True).data)

    @extend_schema(
        summary=f"The campaign's labels: gold where adjudicated, else the strict majority {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], responses=LabelSetRowSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=ItemPagination)
    def labels(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        self.authorise_manager("see the campaign's labels")
        label_set = selectors.label_set(campaign=campaign)
        rows = [{"campaign_item_id": pk, **label_set[pk]} for pk in sorted(label_set)]
        page = _with_item_keys(self.paginate_queryset(rows), campaign)
        rows = [{"campaign_item": row["campaign_item_id"], **row} for row in page]
        return self.get_paginated_response(LabelSetRowSerializer(rows, many=True).data)

    @extend_schema(
        summary="The human baseline: how often the annotators are right, measured on the adjudicated gold sample "
                f"or estimated from their agreement, with its 95% interval and size {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], responses=HumanBaselineSerializer,
    )
    @action(detail=True, methods=["get"], url_path="human-baseline", url_name="human-baseline")
    def human_baseline(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        self.authorise_manager("see annotators' accuracy")
        return Response(HumanBaselineSerializer(selectors.human_baseline(campaign=campaign)).data)

    def _gold_sample(self, campaign: Campaign, **kwargs: Any) -> Response:
        state = selectors.gold_sample_state(campaign=campaign)
        data = {"items": state.items, "adjudicated": state.adjudicated, "max_items": services.GOLD_SAMPLE_MAX,
                "draws": state.draws}
        return Response(GoldSampleSerializer(data).data, **kwargs)

    @extend_schema(
        methods=["GET"], summary=f"The gold sample: its size, how much is adjudicated, its draws {_MANAGERS}",
        parameters=[CAMPAIGN_SLUG_PARAMETER], responses=GoldSampleSerializer,
    )
    @extend_schema(
        methods=["POST"],
        summary="Add items drawn at random (seeded) from those two annotators or more labelled to the gold sample, "
                "for the lead to adjudicate; the human baseline is measured on them (lead)",
        parameters=[CAMPAIGN_SLUG_PARAMETER], request=GoldSampleRequestSerializer,
        responses={201: GoldSampleSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="gold-sample", url_name="gold-sample")
    def gold_sample(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign = self.get_object()
        if request.method == "GET":
            self.authorise_manager("see the gold sample")
            return self._gold_sample(campaign)
        policy.require(user=request.user, project=self.project, action=policy.ADJUDICATE, what="draw a gold sample")
        data = parse(GoldSampleRequestSerializer, request)
        services.gold_sample_draw(campaign=campaign, actor=request.user, **data)
        return self._gold_sample(campaign, status=status.HTTP_201_CREATED)


# --- Annotations ------------------------------------------------------------------------------


class IdFilter(django_filters.NumberFilter):
    """A whole number that fits an id column; anything else is a 400, not a database error."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class AnnotationFilter(django_filters.FilterSet):
    annotator = django_filters.CharFilter(field_name="annotator__username", help_text="A username")
    item = IdFilter(field_name="campaign_item_id", help_text="A campaign item's id")

    class Meta:
        model = Annotation
        fields = ["annotator", "item"]


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="Annotations: all of them for the lead and engineers, your own otherwise"),
    retrieve=extend_schema(summary="One annotation (your own, unless you are the lead or an engineer)"),
)
class AnnotationViewSet(CampaignScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    serializer_class = AnnotationSerializer
    filterset_class = AnnotationFilter
    pagination_class = ItemPagination  # page_size up to 200: clients read annotations in bulk
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Annotation]:
        if self.campaign is None:
            return Annotation.objects.none()
        if self.is_manager():
            annotations = Annotation.objects.filter(campaign=self.campaign)
        else:
            # Blind or not: others' labels reach an annotator only on the labelling page, and
            # only where the campaign allows it.
            annotations = selectors.my_annotations(campaign=self.campaign, user=self.request.user)
        return annotations.select_related("campaign_item__item", "annotator", "guideline_version").order_by(
            "created_at", "id"
        )

    def get_serializer_class(self):
        return {"create": AnnotationCreateSerializer, "partial_update": AnnotationEditSerializer}.get(
            self.action, AnnotationSerializer
        )

    def get_object(self) -> Annotation:
        annotation = self.get_queryset().filter(pk=_id(self.kwargs["pk"])).first()
        if annotation is None:
            raise Http404("No such annotation")
        return annotation

    @extend_schema(
        summary="Label an item without claiming it (assigned annotators); 409 when the item is full or "
                "already labelled by you",
        request=AnnotationCreateSerializer, responses={201: AnnotationSerializer},
    )
    def create(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        if not self.campaign.annotators.filter(pk=request.user.pk).exists():
            raise PermissionDenied("You are not an annotator of this campaign.")
        data = parse(AnnotationCreateSerializer, request, campaign=self.campaign)
        annotation = services.annotation_submit(
            campaign=self.campaign, annotator=request.user, campaign_item=data["campaign_item"],
            value=data["value"], seconds_spent=data["seconds_spent"], tool=Tool.API,
        )
        return Response(
            AnnotationSerializer(self.get_queryset().get(pk=annotation.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Edit your own annotation; a stale revision is a 409",
        request=AnnotationEditSerializer, responses=AnnotationSerializer,
    )
    def partial_update(self, request: Request, project_slug: str, campaign_slug: str, pk: str) -> Response:
        annotation = self.get_object()
        if annotation.annotator_id != request.user.pk:
            raise PermissionDenied("You can only edit your own annotations.")
        data = parse(AnnotationEditSerializer, request)
        services.annotation_update(annotation=annotation, annotator=request.user, **data)
        return Response(AnnotationSerializer(self.get_object()).data)


# --- The queue --------------------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary=f"The queue in order: counts, gold labels, uncertainty {_MANAGERS}"),
    retrieve=extend_schema(summary=f"One queue row {_MANAGERS}"),
)
class CampaignItemViewSet(CampaignScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    serializer_class = CampaignItemSerializer
    pagination_class = ItemPagination
    lookup_value_regex = ID_PATTERN

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # The queue shows every annotator's progress and the gold labels: not for annotators.
        self.authorise_manager("see the campaign's queue")

    def get_queryset(self) -> QuerySet[CampaignItem]:
        if self.campaign is None:
            return CampaignItem.objects.none()
        # By id, which the primary key serves: a million-row queue pages without a sort.
        return CampaignItem.objects.filter(campaign=self.campaign).select_related("item", "gold_by").order_by("id")

    def get_serializer_class(self):
        return GoldSerializer if self.action == "gold" else CampaignItemSerializer

    def get_object(self) -> CampaignItem:
        item = self.get_queryset().filter(pk=_id(self.kwargs["pk"])).first()
        if item is None:
            raise Http404("No such item in this campaign")
        return item

    @extend_schema(
        summary="Set the item's gold (adjudicated) label; null clears it (lead)",
        request=GoldSerializer, responses=CampaignItemSerializer,
    )
    @action(detail=True, methods=["put"])
    def gold(self, request: Request, project_slug: str, campaign_slug: str, pk: str) -> Response:
        item = self.get_object()
        policy.require(user=request.user, project=self.project, action=policy.ADJUDICATE, what="adjudicate labels")
        data = parse(GoldSerializer, request)
        services.gold_set(campaign=self.campaign, actor=request.user, campaign_item=item, **data)
        return Response(CampaignItemSerializer(self.get_object()).data)
