"""Dataset routes of the REST API, under /api/projects/{project_slug}/datasets/. Included into
the `api` namespace by prakriya/api_urls.py."""

from rest_framework.routers import SimpleRouter

from datasets import api
from projects.api import SLUG_URL_PATTERN

DATASETS = rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/datasets"
DATASET = rf"{DATASETS}/(?P<dataset_slug>{api.DATASET_SLUG_PATTERN})"
VERSION = rf"{DATASET}/versions/(?P<version_number>{api.VERSION_NUMBER_PATTERN})"

router = SimpleRouter()
router.register(DATASETS, api.DatasetViewSet, basename="dataset")
router.register(rf"{DATASET}/versions", api.VersionViewSet, basename="dataset-version")
router.register(rf"{VERSION}/items", api.ItemViewSet, basename="dataset-item")

urlpatterns = router.urls
