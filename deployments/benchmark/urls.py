from django.urls import path

from deployments.benchmark import views

urlpatterns = [
    path("projects/<slug:slug>/deployments/benchmarks/<int:pk>/", views.benchmark_detail, name="benchmark"),
    path("projects/<slug:slug>/deployments/exports/<int:pk>/benchmark/", views.benchmark_start,
         name="benchmark_start"),
]
