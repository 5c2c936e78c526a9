"""The API's documentation pages (Swagger UI and Redoc, served from drf-spectacular-sidecar's
bundled files so they work offline), under the platform's Content-Security-Policy."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    # The split view serves the script that starts Swagger UI as a file (?script), not inline.
    template_name = "api_docs/swagger_ui.html"
    # The HTML docs page only answers GET: DRF's OPTIONS metadata has no template to render it with.
    http_method_names = ["get", "head"]


# ReDoc styles itself with style elements it creates at run time (styled-components) and runs its
# search in a worker made from a blob: URL. The page shows only the schema, generated from the
# code, never a user's text: it alone may do both (no nonce then: a nonce would void 'unsafe-inline').
@method_decorator(csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}), name="dispatch")
class ApiRedocView(SpectacularRedocView):
    template_name = "api_docs/redoc.html"
    http_method_names = ["get", "head"]
