from django.urls import path  # noqa: F401 - the subdomains add their routes here

from deployments.benchmark.urls import urlpatterns as benchmark_urlpatterns
from deployments.export.urls import urlpatterns as export_urlpatterns

app_name = "deployments"

urlpatterns: list = [*export_urlpatterns, *benchmark_urlpatterns]
