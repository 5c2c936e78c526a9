from rest_framework.routers import SimpleRouter

from deployments.benchmark import api
from projects.api import SLUG_URL_PATTERN

router = SimpleRouter()
router.register(rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/benchmarks", api.BenchmarkViewSet,
                basename="benchmark")

urlpatterns = router.urls
