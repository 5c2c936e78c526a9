from django.urls import path

from deployments.batch import views

_BATCHES = "projects/<slug:slug>/deployments/<slug:deployment_slug>/batch-predictions/"

urlpatterns = [
    path(_BATCHES, views.batch_predictions, name="batch_predictions"),
    path(_BATCHES + "<int:batch_id>/", views.batch_prediction, name="batch_prediction"),
    path(_BATCHES + "<int:batch_id>/predictions.csv", views.batch_prediction_download,
         name="batch_prediction_download"),
]
