from django.urls import path

from deployments import views
from deployments.batch.urls import urlpatterns as batch_urls
from deployments.benchmark.urls import urlpatterns as benchmark_urls
from deployments.drift.urls import urlpatterns as drift_urls
from deployments.export.urls import urlpatterns as export_urls
from deployments.loopback.urls import urlpatterns as loopback_urls

app_name = "deployments"

_DEPLOYMENTS = "projects/<slug:slug>/deployments/"
_ONE = _DEPLOYMENTS + "<slug:deployment_slug>/"

urlpatterns = [
    # Before the deployment routes: "exports" and "benchmarks" are not deployment slugs.
    *export_urls,
    *benchmark_urls,
    path(_DEPLOYMENTS, views.deployment_list, name="deployments"),
    path(_DEPLOYMENTS + "exports/<int:pk>/bundle.zip", views.export_bundle, name="export_bundle"),
    path(_ONE, views.deployment_detail, name="deployment"),
    path(_ONE + "canary/", views.deployment_canary, name="canary"),
    path(_ONE + "share/", views.deployment_share, name="share"),
    path(_ONE + "promote/", views.deployment_promote, name="promote"),
    path(_ONE + "rollback/", views.deployment_rollback, name="rollback"),
    path(_ONE + "keys/", views.key_create, name="key_create"),
    path(_ONE + "keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    *drift_urls,
    *batch_urls,
    *loopback_urls,
]
