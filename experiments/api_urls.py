"""Run routes of the REST API, under /api/projects/{project_slug}/runs/. Included into the `api`
namespace by projects/api_urls.py."""

from rest_framework.routers import SimpleRouter

from experiments import api
from projects.api import SLUG_URL_PATTERN

router = SimpleRouter()
router.register(rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/runs", api.RunViewSet, basename="run")

urlpatterns = router.urls
