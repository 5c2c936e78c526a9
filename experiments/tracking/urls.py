from django.urls import re_path

from experiments.tracking import views

app_name = "tracking"

urlpatterns = [
    # Everything under /mlflow/ (the pattern has no end): MLflow's own URL map routes it further.
    re_path(r"^", views.tracking_server, name="server"),
]
