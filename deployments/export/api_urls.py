from rest_framework.routers import SimpleRouter

from deployments.export import api
from projects.api import SLUG_URL_PATTERN

router = SimpleRouter()
router.register(rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/model-exports", api.ExportViewSet,
                basename="model-export")

urlpatterns = router.urls
