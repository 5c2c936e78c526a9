from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from experiments.tracking import proxy


# Token authentication only (session cookies are ignored here), so there is no CSRF to check.
@csrf_exempt
def tracking_server(request: HttpRequest) -> HttpResponse:
    """Every MLflow REST and artifact request under /mlflow/."""
    return proxy.handle(request)
