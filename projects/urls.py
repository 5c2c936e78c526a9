from django.urls import path

from projects.literature import views as literature_views
from projects.views import deliverables, jobs, pages

app_name = "projects"

urlpatterns = [
    path("", pages.directory, name="directory"),
    path("home/", pages.home, name="home"),
    path("projects/new/", pages.project_create, name="create"),
    path("projects/<slug:slug>/", pages.project_detail, name="detail"),
    path("projects/<slug:slug>/edit/", pages.charter_edit, name="charter_edit"),
    path("projects/<slug:slug>/expectations/", pages.expectations, name="expectations"),
    path("projects/<slug:slug>/targets/<int:target_id>/delete/", pages.target_delete, name="target_delete"),
    path(
        "projects/<slug:slug>/value/<int:estimate_id>/delete/",
        pages.value_estimate_delete,
        name="value_delete",
    ),
    path("projects/<slug:slug>/settings/", pages.project_settings, name="settings"),
    path(
        "projects/<slug:slug>/members/<int:membership_id>/remove/", pages.member_remove, name="member_remove"
    ),
    path(
        "projects/<slug:slug>/members/<int:membership_id>/unlock/", pages.member_unlock, name="member_unlock"
    ),
    path("projects/<slug:slug>/history/", pages.history, name="history"),
    path("projects/<slug:slug>/history/<int:number>/", pages.revision_detail, name="revision"),
    path("projects/<slug:slug>/timeline/", pages.timeline, name="timeline"),
    path("projects/<slug:slug>/deliverables/<slug:kind>/", deliverables.deliverable_detail, name="deliverable"),
    path(
        "projects/<slug:slug>/deliverables/<slug:kind>/export/",
        deliverables.deliverable_export,
        name="deliverable_export",
    ),
    path(
        "projects/<slug:slug>/deliverables/<slug:kind>/approvals/<int:number>/",
        deliverables.deliverable_approval,
        name="deliverable_approval",
    ),
    path(
        "projects/<slug:slug>/deliverables/<slug:kind>/approvals/<int:number>/export/",
        deliverables.deliverable_export,
        name="deliverable_approval_export",
    ),
    path(
        "projects/<slug:slug>/deliverables/<slug:kind>/transition/",
        deliverables.deliverable_transition,
        name="deliverable_transition",
    ),
    path("projects/<slug:slug>/export/", jobs.export_start, name="export"),
    path("projects/<slug:slug>/literature/", literature_views.literature_list, name="literature"),
    path("projects/<slug:slug>/literature/new/", literature_views.literature_add, name="literature_add"),
    path(
        "projects/<slug:slug>/literature/<int:entry_id>/edit/",
        literature_views.literature_edit,
        name="literature_edit",
    ),
    path(
        "projects/<slug:slug>/literature/<int:entry_id>/delete/",
        literature_views.literature_delete,
        name="literature_delete",
    ),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job"),
    path("jobs/<int:job_id>/status/", jobs.job_status, name="job_status"),
    path("jobs/<int:job_id>/cancel/", jobs.job_cancel_view, name="job_cancel"),
    path("jobs/<int:job_id>/download/", jobs.job_download, name="job_download"),
]
