from django.urls import path

from projects import views

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
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("jobs/<int:job_id>/download/", views.job_download, name="job_download"),
]
