"""Project routes of the REST API (projects, their members, charter, deliverables, literature,
exports) and the jobs. Included into the `api` namespace by prakriya/api_urls.py."""

from rest_framework.routers import SimpleRouter

from projects import api
from projects.literature.api import LiteratureEntryViewSet

PROJECT = rf"projects/(?P<project_slug>{api.SLUG_URL_PATTERN})"

router = SimpleRouter()
router.register("projects", api.ProjectViewSet, basename="project")
router.register(rf"{PROJECT}/members", api.MembershipViewSet, basename="project-member")
router.register(rf"{PROJECT}/targets", api.TargetViewSet, basename="project-target")
router.register(rf"{PROJECT}/value-estimates", api.ValueEstimateViewSet, basename="project-value-estimate")
router.register(rf"{PROJECT}/deliverables", api.DeliverableViewSet, basename="project-deliverable")
router.register(rf"{PROJECT}/timeline", api.TimelineViewSet, basename="project-timeline")
router.register(rf"{PROJECT}/revisions", api.RevisionViewSet, basename="project-revision")
router.register(rf"{PROJECT}/exports", api.ProjectExportViewSet, basename="project-export")
router.register(rf"{PROJECT}/literature", LiteratureEntryViewSet, basename="project-literature")
router.register("jobs", api.JobViewSet, basename="job")

urlpatterns = router.urls
