from django.urls import path

from deployments.loopback import views

urlpatterns = [
    path("projects/<slug:slug>/deployments/<slug:deployment_slug>/loopback/", views.loopback_page, name="loopback"),
]
