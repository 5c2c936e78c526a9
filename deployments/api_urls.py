"""Deployment routes of the REST API, under /api/projects/{project_slug}/deployments/ (and the
project's targets with their measured values, /api/projects/{project_slug}/target-values/). Included
into the `api` namespace by prakriya/api_urls.py."""

from django.urls import re_path

from deployments import api
from deployments.batch.api_urls import urlpatterns as batch_api_urls
from deployments.benchmark.api_urls import urlpatterns as benchmark_api_urls
from deployments.drift.api_urls import urlpatterns as drift_api_urls
from deployments.export.api_urls import urlpatterns as export_api_urls
from deployments.loopback.api_urls import urlpatterns as loopback_api_urls
from projects.api import SLUG_URL_PATTERN

_DEPLOYMENTS = rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/deployments/"
_ONE = _DEPLOYMENTS + r"(?P<deployment_slug>[-a-zA-Z0-9_]{1,60})/"

urlpatterns = [
    re_path(_DEPLOYMENTS + r"$", api.DeploymentListView.as_view(), name="deployment-list"),
    re_path(_ONE + r"$", api.DeploymentDetailView.as_view(), name="deployment-detail"),
    re_path(_ONE + r"predict/$", api.PredictView.as_view(), name="deployment-predict"),
    re_path(_ONE + r"canary/$", api.CanaryView.as_view(), name="deployment-canary"),
    re_path(_ONE + r"share/$", api.ShareView.as_view(), name="deployment-share"),
    re_path(_ONE + r"promote/$", api.PromoteView.as_view(), name="deployment-promote"),
    re_path(_ONE + r"rollback/$", api.RollbackView.as_view(), name="deployment-rollback"),
    re_path(_ONE + r"keys/$", api.KeyListView.as_view(), name="deployment-keys"),
    re_path(_ONE + r"keys/(?P<pk>[0-9]{1,18})/revoke/$", api.KeyRevokeView.as_view(), name="deployment-key-revoke"),
    re_path(_ONE + r"predictions/$", api.PredictionLogView.as_view(), name="deployment-predictions"),
    re_path(rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/target-values/$", api.TargetValuesView.as_view(),
            name="project-target-values"),
]
urlpatterns += drift_api_urls
urlpatterns += loopback_api_urls
urlpatterns += export_api_urls
urlpatterns += benchmark_api_urls
urlpatterns += batch_api_urls
