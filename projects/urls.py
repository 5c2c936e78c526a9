from django.urls import path

from projects import views
from projects.literature import views as literature_views

app_name = "projects"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("projects/new/", views.project_create, name="create"),
    path("projects/<slug:slug>/", views.project_detail, name="detail"),
    path("projects/<slug:slug>/edit/", views.charter_edit, name="charter_edit"),
    path("projects/<slug:slug>/expectations/", views.expectations, name="expectations"),
    path("projects/<slug:slug>/targets/<int:target_id>/delete/", views.target_delete, name="target_delete"),
    path(
        "projects/<slug:slug>/value/<int:estimate_id>/delete/",
        views.value_estimate_delete,
        name="value_delete",
    ),
    path("projects/<slug:slug>/settings/", views.project_settings, name="settings"),
    path(
        "projects/<slug:slug>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"
    ),
    path(
        "projects/<slug:slug>/members/<int:membership_id>/unlock/", views.member_unlock, name="member_unlock"
    ),
    path("projects/<slug:slug>/history/", views.history, name="history"),
    path("projects/<slug:slug>/history/<int:number>/", views.revision_detail, name="revision"),
    path("projects/<slug:slug>/timeline/", views.timeline, name="timeline"),
    path("projects/<slug:slug>/deliverables/<slug:kind>/", views.deliverable_detail, name="deliverable"),
    path(
        "projects/<slug:slug>/deliverables/<slug:kind>/transition/",
        views.deliverable_transition,
        name="deliverable_transition",
    ),
    path("projects/<slug:slug>/export/", views.export_start, name="export"),
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
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("jobs/<int:job_id>/download/", views.job_download, name="job_download"),
]
