from django.urls import re_path

from deployments.loopback import api
from projects.api import SLUG_URL_PATTERN

urlpatterns = [
    re_path(rf"^projects/(?P<project_slug>{SLUG_URL_PATTERN})/deployments/(?P<deployment_slug>{SLUG_URL_PATTERN})"
            r"/loopback/$", api.LoopbackView.as_view(), name="deployment-loopback"),
]
