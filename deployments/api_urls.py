from deployments.benchmark.api_urls import urlpatterns as benchmark_urlpatterns
from deployments.export.api_urls import urlpatterns as export_urlpatterns

urlpatterns: list = [*export_urlpatterns, *benchmark_urlpatterns]
