from django.urls import path

from deployments.drift import views

urlpatterns = [
    path("projects/<slug:slug>/deployments/<slug:deployment_slug>/drift/", views.drift_page, name="drift"),
]
