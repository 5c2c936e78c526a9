from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from prakriya.accounts.api import TokenCreateView
from prakriya.accounts.views import LoginView
from prakriya.api_docs import ApiDocsView, ApiRedocView

urlpatterns = [
    path("", include("projects.urls")),
    path("", include("datasets.urls")),
    path("", include("datasets.annotation.urls")),
    path("", include("experiments.urls")),
    path("", include("deployments.urls")),
    path("accounts/", include("prakriya.accounts.urls")),
    path("admin/", admin.site.urls),
    # The MLflow tracking server: mlflow.set_tracking_uri("http://<host>/mlflow").
    path("mlflow/", include("experiments.tracking.urls")),
    path("api/", include("prakriya.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", ApiRedocView.as_view(url_name="schema"), name="api-redoc"),
    # The API's browsable login is the platform's own login form (throttled), in DRF's page.
    path("api/auth/login/", LoginView.as_view(template_name="rest_framework/login.html"), name="api-login"),
    path("api/auth/token/", TokenCreateView.as_view(), name="api-token-create"),
    path("api/auth/", include("rest_framework.urls", namespace="rest_framework")),
]
