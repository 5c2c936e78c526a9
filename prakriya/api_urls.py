"""The REST API, mounted at /api/ (schema at /api/schema/, Swagger UI at /api/docs/): each app's
routes under one `api` namespace. Like the root URLconf, this is where the platform meets the apps;
nothing else in prakriya/ imports an app."""

from datasets.annotation.api_urls import urlpatterns as annotation_urlpatterns
from datasets.api_urls import urlpatterns as datasets_urlpatterns
from deployments.api_urls import urlpatterns as deployments_urlpatterns
from experiments.api_urls import urlpatterns as experiments_urlpatterns
from projects.api_urls import urlpatterns as projects_urlpatterns

app_name = "api"

urlpatterns = (
    projects_urlpatterns + datasets_urlpatterns + annotation_urlpatterns + experiments_urlpatterns
    + deployments_urlpatterns
)
