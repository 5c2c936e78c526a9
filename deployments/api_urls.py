from deployments.drift.api_urls import urlpatterns as drift_api_urls
from deployments.loopback.api_urls import urlpatterns as loopback_api_urls

urlpatterns: list = []
urlpatterns += drift_api_urls
urlpatterns += loopback_api_urls
