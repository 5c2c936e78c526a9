"""The REST API of deployments, under /api/projects/{project_slug}/deployments/: list and create,
the rollout's actions, keys, the prediction log, and the prediction endpoint itself.

The prediction endpoint accepts a deployment key (header `X-Deployment-Key`, or
`Authorization: Bearer <key>`), scoped to its deployment, or a personal token / session of a
member the policy lets predict. Bad input is a 400 naming what the model expects, an oversize
body a 413; nothing of a refused request is logged as a prediction.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments import selectors, services, target_values
from deployments.access import REFUSAL, DeploymentsReadMixin
from deployments.models import Deployment, DeploymentKey, Prediction
from deployments.serving.predict import Caller, InputError, ScoringError, predict
from prakriya.rest import CappedJSONParser, PayloadTooLarge, StrictTokenAuthentication, parse
from projects import policy
from projects import selectors as project_selectors
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin
from projects.serializers import StrictSerializer

DEPLOYMENT_SLUG_PARAMETER = OpenApiParameter(
    "deployment_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The deployment's slug"
)
KEY_HEADER = "X-Deployment-Key"


def _to_api(exc: ValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


# --- Serializers ----------------------------------------------------------------------------


class DeploymentVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    variant = serializers.CharField()
    run_id = serializers.CharField(source="run.mlflow_run_id")
    sha256 = serializers.CharField()


class DeploymentSerializer(serializers.ModelSerializer):
    stable = DeploymentVersionSerializer(read_only=True)
    canary = DeploymentVersionSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = ["slug", "name", "stable", "canary", "canary_percent", "revision", "created_at", "updated_at"]
        read_only_fields = fields


class DeploymentCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True, default="")
    export = serializers.IntegerField(min_value=1, help_text="The id of a ready export of this project")
    override_reason = serializers.CharField(max_length=services.MAX_REASON, required=False, allow_blank=True,
                                            default="", help_text="The lead's reason to serve past the benchmark gate")


class CanarySerializer(StrictSerializer):
    export = serializers.IntegerField(min_value=1)
    percent = serializers.IntegerField(min_value=1, max_value=services.MAX_CANARY_PERCENT)


class ShareSerializer(StrictSerializer):
    percent = serializers.IntegerField(min_value=1, max_value=services.MAX_CANARY_PERCENT)


class PromoteSerializer(StrictSerializer):
    override_reason = serializers.CharField(max_length=services.MAX_REASON, required=False, allow_blank=True,
                                            default="")


class KeySerializer(serializers.ModelSerializer):
    class Meta:
        model = DeploymentKey
        fields = ["id", "name", "prefix", "created_at", "revoked_at"]
        read_only_fields = fields


class KeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)


class PredictionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="export_id")

    class Meta:
        model = Prediction
        fields = ["id", "version", "caller", "label", "score", "latency_ms", "input_hash", "input", "created_at"]
        read_only_fields = fields


# --- Project-scoped management --------------------------------------------------------------


class DeploymentScopedMixin(DeploymentsReadMixin):
    """Routes under a project's deployments: those who may read them (404 for a private project
    they cannot see, 403 for a member whose role does not include deployments)."""

    deployment: Deployment | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if "deployment_slug" in kwargs:
            self.deployment = selectors.deployment_get(
                project=self.project, user=request.user, slug=kwargs["deployment_slug"]
            )

    def act(self, service, **arguments):
        try:
            return service(**arguments)
        except ValidationError as exc:
            raise _to_api(exc) from None


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
class DeploymentListView(DeploymentScopedMixin, generics.ListAPIView):
    serializer_class = DeploymentSerializer

    def get_queryset(self) -> QuerySet[Deployment]:
        if self.project is None:
            return Deployment.objects.none()
        return selectors.deployments_of(project=self.project).select_related("stable__run", "canary__run")

    @extend_schema(request=DeploymentCreateSerializer, responses={201: DeploymentSerializer},
                   summary="Deploy a ready export (its benchmark inside the targets, or the lead's override)")
    def post(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS, what="deploy models")
        data = parse(DeploymentCreateSerializer, request)
        export = selectors.exports_of(project=self.project).filter(pk=data.pop("export")).first()
        if export is None:
            raise exceptions.ValidationError({"export": ["No export with this id in this project."]})
        deployment = self.act(services.deployment_create, project=self.project, actor=request.user, export=export, **data)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class DeploymentDetailView(DeploymentScopedMixin, APIView):
    @extend_schema(responses=DeploymentSerializer, summary="A deployment and its rollout")
    def get(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        return Response(DeploymentSerializer(self.deployment).data)


class _RolloutAction(DeploymentScopedMixin, APIView):
    action_name = ""

    def done(self, deployment: Deployment) -> Response:
        return Response(DeploymentSerializer(deployment).data)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class CanaryView(_RolloutAction):
    @extend_schema(request=CanarySerializer, responses=DeploymentSerializer,
                   summary="Start a canary: a share of callers (sticky per caller) gets this export")
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS, what="roll out")
        data = parse(CanarySerializer, request)
        export = selectors.exports_of(project=self.project).filter(pk=data["export"]).first()
        if export is None:
            raise exceptions.ValidationError({"export": ["No export with this id in this project."]})
        return self.done(self.act(services.canary_start, deployment=self.deployment, actor=request.user,
                                  export=export, percent=data["percent"]))


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class ShareView(_RolloutAction):
    @extend_schema(request=ShareSerializer, responses=DeploymentSerializer, summary="Change the canary's share")
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS, what="roll out")
        data = parse(ShareSerializer, request)
        return self.done(self.act(services.canary_share_set, deployment=self.deployment, actor=request.user,
                                  percent=data["percent"]))


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class PromoteView(_RolloutAction):
    @extend_schema(request=PromoteSerializer, responses=DeploymentSerializer,
                   summary="Promote the canary to 100% (the lead; gated on its benchmark or an override)")
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.PROMOTE_DEPLOYMENTS, what="promote")
        data = parse(PromoteSerializer, request)
        return self.done(self.act(services.canary_promote, deployment=self.deployment, actor=request.user,
                                  override_reason=data["override_reason"]))


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class RollbackView(_RolloutAction):
    @extend_schema(request=None, responses=DeploymentSerializer, summary="Roll the canary back: all traffic to stable")
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS, what="roll back")
        return self.done(self.act(services.canary_rollback, deployment=self.deployment, actor=request.user))


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class KeyListView(DeploymentScopedMixin, generics.ListAPIView):
    serializer_class = KeySerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS, what="manage keys")

    def get_queryset(self) -> QuerySet[DeploymentKey]:
        if self.deployment is None:
            return DeploymentKey.objects.none()
        return selectors.keys_of(deployment=self.deployment)

    @extend_schema(request=KeyCreateSerializer,
                   responses={201: inline_serializer("KeyCreated", {"id": serializers.IntegerField(),
                                                                    "name": serializers.CharField(),
                                                                    "key": serializers.CharField()})},
                   summary="Create a key for this deployment (its secret is shown this once)")
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        data = parse(KeyCreateSerializer, request)
        key, secret = self.act(services.key_create, deployment=self.deployment, actor=request.user, name=data["name"])
        return Response({"id": key.pk, "name": key.name, "key": secret}, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class KeyRevokeView(DeploymentScopedMixin, APIView):
    @extend_schema(request=None, responses=KeySerializer, summary="Revoke a key: it fails at once")
    def post(self, request: Request, project_slug: str, deployment_slug: str, pk: int) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS, what="revoke keys")
        key = selectors.keys_of(deployment=self.deployment).filter(pk=pk).first()
        if key is None:
            raise Http404("No such key.")
        key.deployment = self.deployment
        return Response(KeySerializer(self.act(services.key_revoke, key=key, actor=request.user)).data)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class PredictionLogView(DeploymentScopedMixin, generics.ListAPIView):
    """The prediction log, newest first: what the privacy setting kept of each input."""

    serializer_class = PredictionSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        policy.require(user=request.user, project=self.project, action=policy.VIEW_PREDICTIONS,
                       what="read the prediction log")

    def get_queryset(self) -> QuerySet[Prediction]:
        if self.deployment is None:
            return Prediction.objects.none()
        return self.deployment.predictions.all()


# --- The prediction endpoint ----------------------------------------------------------------


class DeploymentKeyAuthentication(BaseAuthentication):
    """A deployment key in `X-Deployment-Key` or `Authorization: Bearer`; the request is then
    anonymous as a user and carries the key as `request.auth`."""

    def authenticate(self, request):
        secret = request.META.get("HTTP_X_DEPLOYMENT_KEY", "")
        if not secret:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            secret = value.strip()
        key = selectors.key_lookup(secret=secret)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked deployment key.")
        return AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="deployment"'


class DeploymentKeyScheme(OpenApiAuthenticationExtension):
    target_class = DeploymentKeyAuthentication
    name = "deploymentKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": KEY_HEADER}


class _MultiPartImages(MultiPartParser):
    """Image files posted as multipart form data, under the same body cap."""


class PredictRequestSerializer(serializers.Serializer):
    inputs = serializers.ListField(
        help_text="One item per input: numbers (tabular), {\"image_base64\": …} or {\"pixels\": […]} (image), "
        "a string (text). GET this address for the model's input schema."
    )


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class PredictView(APIView):
    authentication_classes = [DeploymentKeyAuthentication, StrictTokenAuthentication, SessionAuthentication]
    parser_classes = [CappedJSONParser, _MultiPartImages]
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.PRAKRIYA_PREDICT_MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request body exceeds {settings.PRAKRIYA_PREDICT_MAX_BODY_BYTES} bytes.")
        super().initial(request, *args, **kwargs)
        self.deployment, self.caller = self._authorise(request, kwargs["project_slug"], kwargs["deployment_slug"])

    def _authorise(self, request: Request, project_slug: str, slug: str) -> tuple[Deployment, Caller]:
        deployment = selectors.deployment_for_serving(project_slug=project_slug, slug=slug)
        key = request.auth if isinstance(request.auth, DeploymentKey) else None
        if key is not None:
            if deployment is None or key.deployment_id != deployment.pk:
                raise exceptions.PermissionDenied("This key belongs to another deployment.")
            return deployment, Caller("key", key.pk)
        user = request.user
        project = project_selectors.project_get_visible(user=user, slug=project_slug)  # 404 when invisible
        if deployment is None:
            raise Http404("No such deployment.")
        if not user.is_authenticated:
            raise exceptions.NotAuthenticated("Call with a deployment key or a personal token.")
        if not policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS):
            raise exceptions.PermissionDenied(REFUSAL)
        if not policy.can(user=user, project=deployment.project, action=policy.PREDICT):
            raise exceptions.PermissionDenied("Your role in this project does not include calling its deployments.")
        return deployment, Caller("user", user.pk)

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="What the stable version takes: its input schema")
    def get(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        schema = self.deployment.stable.input_schema
        return Response({"deployment": self.deployment.slug, "version": self.deployment.stable_id,
                         "input_schema": schema, "max_inputs": settings.PRAKRIYA_PREDICT_MAX_BATCH})

    @extend_schema(request=PredictRequestSerializer, responses=OpenApiTypes.OBJECT,
                   summary="Predict: labels with scores, and the version that answered")
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        inputs = self._inputs(request)
        try:
            answer = predict(deployment=self.deployment, caller=self.caller, inputs=inputs)
        except InputError as exc:
            schema = self.deployment.stable.input_schema
            return Response({"detail": str(exc), "input_schema": schema}, status=status.HTTP_400_BAD_REQUEST)
        except ScoringError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(answer)

    def _inputs(self, request: Request):
        files = request.FILES.getlist("file") if hasattr(request, "FILES") else []
        if files:
            if len(files) > settings.PRAKRIYA_PREDICT_MAX_BATCH:
                raise exceptions.ValidationError({"file": [f"At most {settings.PRAKRIYA_PREDICT_MAX_BATCH} files."]})
            return [{"image_base64": base64.b64encode(f.read()).decode("ascii")} for f in files]
        return json_inputs(request.data)


def json_inputs(data):
    """The `inputs` of a JSON prediction request (this view's and the WSGI fast path's)."""
    if not isinstance(data, dict) or "inputs" not in data:
        raise exceptions.ValidationError({"inputs": ['Send {"inputs": [...]} as JSON, or image files as "file".']})
    return data["inputs"]



# --- The project's targets with what measures them -------------------------------------------


class TargetValueSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="In the target's unit; null when not measured")
    status = serializers.ChoiceField(choices=[target_values.MET, target_values.MISSED, target_values.NOT_MEASURED])
    source = serializers.CharField(help_text="What measured it, e.g. 'run mlp seed 7 on digits@v3'")
    url = serializers.CharField(help_text="The page of its source; empty when not measured")
    note = serializers.CharField(help_text="How it was computed, or why there is no value")


class TargetValuesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target = serializers.CharField(help_text="The target as the project page states it")
    metric = serializers.CharField()
    comparator = serializers.CharField()
    threshold = serializers.FloatField()
    unit = serializers.CharField()
    condition = serializers.CharField(help_text="Its operating point, e.g. 'at 20% coverage'; empty if none")
    is_primary = serializers.BooleanField()
    validation = TargetValueSerializer(help_text="The latest finished run's validation value")
    sealed = TargetValueSerializer(help_text="The latest finished sealed test evaluation's value")
    benchmark = TargetValueSerializer(help_text="The latest benchmark's value (latency, size, memory, throughput)")


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
class TargetValuesView(ProjectScopedMixin, APIView):
    """The project page's Targets table: the same read (deployments.target_values), the same
    rules — runs and sealed results for those who see the project's runs, benchmarks for those
    who see its deployments, a sealed value only from a finished evaluation."""

    @extend_schema(summary="Each target with its latest validation, sealed test and benchmark values: met, "
                   "missed or not measured, and where each came from", responses=TargetValuesSerializer(many=True))
    def get(self, request: Request, project_slug: str) -> Response:
        rows = target_values.target_values(user=request.user, project=self.project)
        return Response(TargetValuesSerializer([row.as_dict() for row in rows], many=True).data)
