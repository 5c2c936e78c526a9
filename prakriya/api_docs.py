"""The API's documentation pages (Swagger UI and Redoc, served from drf-spectacular-sidecar's
bundled files so they work offline)."""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView


class ApiDocsView(SpectacularSwaggerView):
    # The HTML docs page only answers GET: DRF's OPTIONS metadata has no template to render it with.
    http_method_names = ["get", "head"]


class ApiRedocView(SpectacularRedocView):
    http_method_names = ["get", "head"]
