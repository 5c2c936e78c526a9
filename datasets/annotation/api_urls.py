"""Campaign routes of the REST API, under /api/projects/{project_slug}/campaigns/. Included into
the `api` namespace by prakriya/api_urls.py.

Paths kept free for other modules: `{campaign}/tasks/…` (labelling_api.py), `{campaign}/agreement/…`
(agreement/api.py) and `{campaign}/labelstudio/…` (labelstudio/api.py)."""

from rest_framework.routers import SimpleRouter

from datasets.annotation import api
from datasets.annotation.agreement.api import agreement_urlpatterns
from datasets.annotation.labelling_api import labelling_urlpatterns
from datasets.annotation.labelstudio.api import labelstudio_urlpatterns
from projects.api import SLUG_URL_PATTERN

CAMPAIGNS = rf"projects/(?P<project_slug>{SLUG_URL_PATTERN})/campaigns"
CAMPAIGN = rf"{CAMPAIGNS}/(?P<campaign_slug>{api.CAMPAIGN_SLUG_PATTERN})"

router = SimpleRouter()
router.register(CAMPAIGNS, api.CampaignViewSet, basename="campaign")
router.register(rf"{CAMPAIGN}/annotations", api.AnnotationViewSet, basename="campaign-annotation")
router.register(rf"{CAMPAIGN}/items", api.CampaignItemViewSet, basename="campaign-item")

urlpatterns = router.urls + labelling_urlpatterns + agreement_urlpatterns + labelstudio_urlpatterns
