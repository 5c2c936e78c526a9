from django.urls import path  # noqa: F401 - the subdomains add their routes here

app_name = "deployments"

urlpatterns: list = []
