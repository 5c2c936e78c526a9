from django.urls import re_path

from deployments.drift import api
from projects.api import SLUG_URL_PATTERN

urlpatterns = [
    re_path(rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/deployments/(?P<deployment_slug>{SLUG_URL_PATTERN})/drift/$",
            api.DriftView.as_view(), name="deployment-drift"),
]
