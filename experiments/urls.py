from django.urls import path

from experiments.views import analysis as analysis_views
from experiments.views import evaluation as evaluation_views
from experiments.views import evidence as evidence_views
from experiments.views import runs as run_views

app_name = "experiments"

_RUNS = "projects/<slug:slug>/runs/"
_EVALUATIONS = "projects/<slug:slug>/evaluations/"

urlpatterns = [
    path(
        "projects/<slug:slug>/deliverables/<slug:kind>/runs/",
        evidence_views.deliverable_runs,
        name="deliverable_runs",
    ),
    path(_RUNS, run_views.run_list, name="runs"),
    # Before the run routes: "compare" is not a run id.
    path(_RUNS + "compare/", run_views.run_compare, name="compare"),
    path(_RUNS + "analysis/compare/", analysis_views.analysis_compare, name="analysis_compare"),
    path(_RUNS + "overfit/", run_views.overfit_launch, name="overfit"),
    path(_RUNS + "sweeps/", run_views.sweep_launch, name="sweeps"),
    path(_RUNS + "<slug:run_id>/", run_views.run_detail, name="run"),
    path(_RUNS + "<slug:run_id>/curves.json", run_views.run_curves, name="run_curves"),
    path(_RUNS + "<slug:run_id>/analysis/", analysis_views.run_analysis, name="run_analysis"),
    path(_RUNS + "<slug:run_id>/sweep/", run_views.sweep_detail, name="sweep"),
    path(_RUNS + "<slug:run_id>/register/", run_views.run_register, name="register"),
    path(_EVALUATIONS, evaluation_views.evaluation_list, name="evaluations"),
    path(_EVALUATIONS + "<int:pk>/", evaluation_views.evaluation_detail, name="evaluation"),
    path(_EVALUATIONS + "<int:pk>/approve/", evaluation_views.evaluation_approve, name="evaluation_approve"),
    path(_EVALUATIONS + "<int:pk>/reject/", evaluation_views.evaluation_reject, name="evaluation_reject"),
]
