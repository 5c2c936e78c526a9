from django.urls import re_path

from deployments.batch import api
from projects.api import SLUG_URL_PATTERN

_BATCHES = (rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/deployments/(?P<deployment_slug>{SLUG_URL_PATTERN})"
            r"/batch-predictions/")

urlpatterns = [
    re_path(_BATCHES + r"$", api.BatchPredictionListView.as_view(), name="deployment-batch-predictions"),
    re_path(_BATCHES + r"(?P<batch_id>[0-9]{1,18})/$", api.BatchPredictionDetailView.as_view(),
            name="deployment-batch-prediction"),
    re_path(_BATCHES + r"(?P<batch_id>[0-9]{1,18})/download/$", api.BatchPredictionDownloadView.as_view(),
            name="deployment-batch-prediction-download"),
]
