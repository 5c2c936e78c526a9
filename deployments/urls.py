from django.urls import path  # noqa: F401 - the subdomains add their routes here

from deployments.drift.urls import urlpatterns as drift_urls
from deployments.loopback.urls import urlpatterns as loopback_urls

app_name = "deployments"

urlpatterns: list = []
urlpatterns += drift_urls
urlpatterns += loopback_urls
