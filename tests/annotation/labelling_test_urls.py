"""The site's URLs with the labelling endpoints inside the `api` namespace, for tests that run
before (or regardless of whether) projects/api_urls.py includes them. Once it does, the
endpoints are not added twice."""

from django.urls import include, path

from datasets.annotation.labelling_api import labelling_urlpatterns
from prakriya import urls as site
from projects import api_urls

_included = {getattr(p, "name", None) for p in api_urls.urlpatterns}
_api = list(api_urls.urlpatterns) + [p for p in labelling_urlpatterns if p.name not in _included]

urlpatterns = [path("api/", include((_api, "api")))] + [p for p in site.urlpatterns if str(p.pattern) != "api/"]
