from django.urls import path

from experiments.views import runs as run_views

app_name = "experiments"

_RUNS = "projects/<slug:slug>/runs/"

urlpatterns = [
    path(_RUNS, run_views.run_list, name="runs"),
    # Before the run routes: "compare" is not a run id.
    path(_RUNS + "compare/", run_views.run_compare, name="compare"),
    path(_RUNS + "<slug:run_id>/", run_views.run_detail, name="run"),
    path(_RUNS + "<slug:run_id>/curves.json", run_views.run_curves, name="run_curves"),
]
