"""The REST API of the loop back: POST /api/projects/{project_slug}/deployments/{deployment_slug}/loopback/
sends a sample of the deployment's production inputs to labelling (leads and engineers; 202 with
the job writing the new version; the campaign is made when it succeeds), GET lists the
deployment's loop backs with their version and campaign once made.

The same rules as the pages: the project through the visibility selector (404), a deployment the
project lacks is a 404, a role without the action a 403, a refusal (privacy setting, bad size) a 400.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from deployments.drift.api import DEPLOYMENT_SLUG_PARAMETER
from deployments.loopback import selectors, services
from deployments.models import Loopback, LoopbackStrategy
from deployments.selectors import deployment_get
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted, parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin
from projects.serializers import StrictSerializer

SHOWN = 50


class LoopbackRequestSerializer(StrictSerializer):
    strategy = serializers.ChoiceField(choices=LoopbackStrategy.choices, default=LoopbackStrategy.LOWEST_CONFIDENCE,
                                       help_text="Lowest confidence first, or the most drifted slice of the latest check")
    size = serializers.IntegerField(min_value=1, help_text="How many inputs (at most PRAKRIYA_LOOPBACK_MAX_ITEMS)")

    def validate_size(self, value: int) -> int:
        if value > settings.PRAKRIYA_LOOPBACK_MAX_ITEMS:
            raise serializers.ValidationError(f"At most {settings.PRAKRIYA_LOOPBACK_MAX_ITEMS} inputs at a time.")
        return value


class LoopbackSerializer(serializers.ModelSerializer):
    inputs = serializers.SerializerMethodField()
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.SerializerMethodField()
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Loopback
        fields = ["id", "strategy", "inputs", "dataset", "version", "campaign", "job", "state", "failure", "created_at"]
        read_only_fields = fields

    def get_inputs(self, obj) -> int:
        return len(obj.predictions)

    def get_version(self, obj) -> int | None:
        return obj.version.number if obj.version else None

    def get_state(self, obj) -> str:
        """waiting (the version is being written), done (its campaign is made) or failed."""
        if obj.campaign_id:
            return "done"
        if obj.failure or (obj.job is not None and obj.job.state in ("failed", "cancelled", "dead")):
            return "failed"
        return "waiting"


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class LoopbackView(ProjectScopedMixin, GenericAPIView):
    serializer_class = LoopbackSerializer
    # For the schema only: the view reads through its selectors, scoped by the deployment.
    queryset = Loopback.objects.none()
    rate_limits = {"post": "jobs"}

    @extend_schema(summary="The deployment's loop backs to labelling, newest first (leads and engineers)",
                   responses=LoopbackSerializer(many=True))
    def get(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.VIEW_PREDICTIONS,
                       what="read the prediction log")
        deployment = deployment_get(project=self.project, user=request.user, slug=deployment_slug)
        loopbacks = selectors.loopbacks_for(user=request.user, deployment=deployment)[:SHOWN]
        return Response(LoopbackSerializer(loopbacks, many=True).data)

    @extend_schema(summary="Send production inputs to a new labelling campaign (leads and engineers)",
                   request=LoopbackRequestSerializer, responses={202: JobDetailSerializer})
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS,
                       what="send production inputs to labelling")
        deployment = deployment_get(project=self.project, user=request.user, slug=deployment_slug)
        data = parse(LoopbackRequestSerializer, request)
        loopback = services.loopback_campaign_create(deployment=deployment, actor=request.user, **data)
        return job_accepted(request, loopback.job)
