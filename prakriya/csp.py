"""The Content-Security-Policy middleware (django-csp), with one widening a page can ask for while
it renders: plotly.js draws its WebGL charts (parallel coordinates, scattergl) with regl, which
compiles its drawing code with `new Function`. A page that embeds such a chart sets
`request.csp_allows_eval` (frontend's plotly_figure tag does), and only that page's policy adds
'unsafe-eval' to script-src: scripts still come from the platform's files only."""

from __future__ import annotations

from csp.constants import UNSAFE_EVAL
from csp.middleware import CSPMiddleware, PolicyParts


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if getattr(request, "csp_allows_eval", False):
            update = dict(parts.update or {})
            update["script-src"] = [*update.get("script-src", []), UNSAFE_EVAL]
            parts.update = update
        return parts
