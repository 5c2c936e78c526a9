"""Run routes of the REST API, under /api/projects/{project_slug}/runs/. Included into the `api`
namespace by prakriya/api_urls.py."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from experiments import api
from experiments.analysis import api as analysis_api
from experiments.api import RUN_ID_PATTERN
from experiments.evaluation import api as evaluation_api
from projects.api import SLUG_URL_PATTERN

router = SimpleRouter()
router.register(rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/runs", api.RunViewSet, basename="run")
router.register(
    rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/evaluations", evaluation_api.EvaluationViewSet,
    basename="evaluation",
)

_RUNS = rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/runs/"

urlpatterns = [
    re_path(rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/deliverables/(?P<kind>[a-z_]+)/runs/$",
            api.DeliverableRunsView.as_view(), name="deliverable-runs"),
    re_path(_RUNS + r"analysis/compare/$", analysis_api.AnalysisCompareView.as_view(), name="run-analysis-compare"),
    re_path(_RUNS + rf"(?P<run_id>{RUN_ID_PATTERN})/analysis/$", analysis_api.RunAnalysisView.as_view(),
            name="run-analysis"),
    *router.urls,
]
