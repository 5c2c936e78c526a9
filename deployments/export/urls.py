from django.urls import path

from deployments.export import views

_EXPORTS = "projects/<slug:slug>/deployments/exports/"

urlpatterns = [
    path(_EXPORTS + "<int:pk>/", views.export_detail, name="export"),
    path(_EXPORTS + "<int:pk>/model.onnx", views.export_download, name="export_download"),
    path("projects/<slug:slug>/runs/<slug:run_id>/export/", views.run_export, name="run_export"),
]
